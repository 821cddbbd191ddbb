# hadolint global ignore=DL3003
FROM debian:12.5
# hadolint ignore=DL3008,DL3015
RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
# hadolint ignore=DL3008
# a comment after the pragma
RUN apt-get install -y --no-install-recommends wget
RUN cd /tmp && echo $X
# hadolint ignore=SC2086
RUN echo $X
#hadolint ignore=DL4006 # with a trailing comment
RUN cat /etc/os-release | grep ID
# hadolint ignore = DL3059 , SC2154
RUN echo $Y
# hadolint ignore=dl3059
RUN echo lower
