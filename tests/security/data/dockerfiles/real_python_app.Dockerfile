FROM python:3.12-slim-bookworm
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
RUN echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bp.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential=12.9 \
      libpq-dev \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir -U pip setuptools wheel
RUN curl -fsSL https://example.org/tool.tar.gz | tar -xz -C /usr/local/bin
ADD --chown=1000 https://example.org/file.bin /opt/file.bin
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.org/x.tar.gz /x/
COPY --link --chmod=755 entrypoint.sh /usr/local/bin/
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc echo ok
RUN groupadd -r app && useradd -r -g app -u 10001 app
VOLUME ["/data"]
STOPSIGNAL SIGTERM
LABEL maintainer="team@example.org" org.opencontainers.image.source="https://github.com/a/b"
USER app
ENTRYPOINT ["entrypoint.sh"]
