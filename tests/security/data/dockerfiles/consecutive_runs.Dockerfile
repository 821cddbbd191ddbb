FROM debian:12.5
RUN echo one
RUN echo two
# a comment between
RUN echo three
RUN echo four && echo five
RUN echo six
ENV A=1
RUN echo seven
RUN --mount=type=cache,target=/root/.cache echo eight
RUN --mount=type=cache,target=/root/.cache echo nine
RUN ["echo", "ten"]
RUN ["echo", "eleven"]
WORKDIR /
RUN echo twelve | cat
RUN echo thirteen
