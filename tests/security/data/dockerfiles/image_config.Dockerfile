FROM alpine:3.19 AS build
USER root
EXPOSE 80 443/tcp 8000-8010 70000 65536/udp 1-99999
HEALTHCHECK CMD curl -f http://localhost/
HEALTHCHECK --interval=5s CMD ["curl", "-f", "http://localhost/"]
CMD echo hello
CMD ["echo", "hello"]
ENTRYPOINT /bin/app
ENTRYPOINT ["/bin/app"]
MAINTAINER someone@example.org

FROM alpine:3.19 AS runtime
USER app
USER 0:0
HEALTHCHECK NONE
CMD ["sh"]

FROM alpine:3.19
USER 1000
USER root:root
