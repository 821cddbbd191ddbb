FROM alpine:3.19 AS base
RUN echo base

FROM base AS child
# hadolint ignore=DL3059
RUN echo child

FROM child AS grandchild
HEALTHCHECK CMD ["true"]

FROM alpine:3.19 AS healthy
HEALTHCHECK NONE

FROM healthy AS inherits

FROM alpine:3.19 AS later
FROM later AS later-child
HEALTHCHECK CMD ["true"]
