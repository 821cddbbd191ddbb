FROM alpine:3.19
RUN apk add curl
RUN apk add --no-cache curl=8.5.0-r0 bash~5.2 'git>2'
RUN apk --update add --virtual .build-deps gcc=13 musl-dev=1
RUN apk add -t .deps ./local.apk --no-cache
RUN --mount=type=cache,target=/var/cache/apk apk add --update openssl=3.1
RUN apk add --repository http://dl-cdn.alpinelinux.org/alpine/edge/testing --no-cache pkg=1
