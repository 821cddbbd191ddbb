FROM debian:12.5
ONBUILD RUN apt-get install curl
ONBUILD RUN sudo make
ONBUILD RUN cd /x
ONBUILD RUN pip install flask
ONBUILD RUN yum install httpd
ONBUILD ARG GITHUB_TOKEN
ONBUILD ENV DB_PASSWORD=x
ONBUILD RUN curl -o /a https://example.org/a
ONBUILD RUN wget https://example.org/b
ONBUILD COPY a.txt rel
ONBUILD RUN echo $UNSET
RUN echo after
