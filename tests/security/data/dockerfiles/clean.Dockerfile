FROM alpine:3.19 AS builder
ARG VERSION=1.0.0
RUN apk add --no-cache build-base=0.5-r3
WORKDIR /src
COPY . .
RUN make VERSION="${VERSION}"

FROM alpine:3.19
COPY --from=builder /src/app /usr/local/bin/app
USER 65534
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["--help"]
