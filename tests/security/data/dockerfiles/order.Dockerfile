# a comment first
ARG VERSION=1
LABEL org.example.before=1
ENV BEFORE=1
FROM alpine:3.19
RUN echo ok
