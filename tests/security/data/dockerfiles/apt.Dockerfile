FROM debian:12.5
RUN apt-get update && apt-get install curl
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311 \
    && rm -rf /var/lib/apt/lists/*
RUN apt-get -qq install foo=1.0
RUN apt-get install -q -q --no-install-recommends ./local.deb bar/bookworm
RUN apt-get install -t bookworm-backports -y --no-install-recommends baz=2
RUN apt-get -o APT::Install-Recommends=false install --yes pkg=3 APT::Install-Recommends=false
RUN apt install git
RUN aptitude update
RUN DEBIAN_FRONTEND=noninteractive apt-get install -y vim=2:9.0
