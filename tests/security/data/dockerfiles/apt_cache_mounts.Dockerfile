FROM debian:12.5 AS base
RUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y --no-install-recommends a=1
RUN --mount=type=cache,target=/var/lib/apt --mount=type=cache,target=/var/cache/apt \
    apt-get update && apt-get install -y --no-install-recommends b=1
RUN --mount=type=tmpfs,target=/var/lib/apt apt-get update

FROM base AS second
RUN apt-get update && apt-get install -y --no-install-recommends c=1

FROM debian:12.5
RUN rm /etc/apt/apt.conf.d/docker-clean && apt-get update
COPY --from=second /x /x
