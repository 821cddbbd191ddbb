FROM debian:12.5 AS hub
LABEL author="someone" url="https://example.org" hash="0123456789abcdef0123456789abcdef01234567"
LABEL version="1.2.3" created="2024-01-02T03:04:05Z" email="me@example.org"

FROM registry.example.org/team/app:1.0 AS trusted-wildcard
LABEL author=""
LABEL url="not a url" hash="xyz" version="1.2" created="yesterday" email="nobody"
LABEL extra=1

FROM ghcr.io/owner/tool:2.0 AS trusted-prefix
COPY --from=hub /a /a
COPY --from=quay.io/other/image:1 /b /b
RUN --mount=type=cache,target=/x,from=untrusted.io/cache:1 echo cached
RUN --mount=type=bind,target=/y,from=hub echo bound

FROM quay.io/untrusted/image:3 AS untrusted
RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
RUN echo one
RUN echo two

FROM hub
# hadolint ignore=DL3003
RUN cd /tmp
