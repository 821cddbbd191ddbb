ARG BASE=debian
FROM ${BASE} AS dynamic
FROM debian AS untagged
FROM debian:latest AS latest
FROM debian:latest@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS pinned
FROM debian@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS digest
FROM untagged AS from-stage
FROM localhost:5000/team/app AS local-registry
FROM registry.example.org:443/app:1.0 AS remote
FROM --platform=linux/amd64 alpine:3.19 AS platform
FROM --platform=$BUILDPLATFORM alpine:3.19 AS build-platform
FROM --platform=$TARGETPLATFORM alpine:3.19 AS target-platform
FROM --platform=${TARGETPLATFORM} alpine:3.19 AS target-platform-braced
FROM scratch AS empty
FROM alpine:3.19 AS scratch
FROM alpine:3.19 AS context
FROM alpine:3.19 AS dup
FROM alpine:3.19 AS dup
FROM scratch
COPY --from=dup /a /a
