FROM debian:12.5 AS a
RUN curl -fsSLo /x https://example.org/x
RUN wget -q https://example.org/y
RUN curl -fsSLo /z https://example.org/z

FROM debian:12.5 AS b
RUN curl -fsSLo /x https://example.org/x && wget -q https://example.org/y

FROM debian:12.5
RUN wget -q https://example.org/y
RUN echo done
