"""How long lamina takes to parse (and type) a 2,000-line Dockerfile; the target is under 50 ms."""

from __future__ import annotations

import time

from lamina.build.dockerfile import parse, parse_stages

BLOCK = """FROM alpine:3.20 AS stage{n}
ARG VERSION=1.{n}
ENV APP_HOME=/srv/app{n} PATH="/srv/app{n}/bin:$PATH"
LABEL org.opencontainers.image.version="${{VERSION}}" maintainer="team@example.com"
WORKDIR $APP_HOME
COPY --chown=app:app --chmod=644 requirements.txt setup.py ./
RUN --mount=type=cache,target=/root/.cache \\
    apk add --no-cache python3 py3-pip && \\
    pip install -r requirements.txt && \\
    rm -rf /tmp/*
RUN <<EOF
set -e
echo building {n}
EOF
COPY --from=stage0 /srv/app0/bin /usr/local/bin/
EXPOSE 80{n:02d} 443/udp
HEALTHCHECK --interval=30s --timeout=3s CMD wget -qO- http://localhost/ || exit 1
USER app
CMD ["python3", "-m", "app", "--port", "80{n:02d}"]
"""


def dockerfile(lines: int) -> str:
    blocks = []
    count = 0
    n = 0
    while count < lines:
        block = BLOCK.format(n=n % 100)
        blocks.append(block)
        count += block.count("\n")
        n += 1
    return "".join(blocks)


def best_of(runs: int, function, text: str) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        function(text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    text = dockerfile(2000)
    lines = text.count("\n")
    print(f"{lines} lines: parse {best_of(20, parse, text) * 1000:.1f} ms, "
          f"parse_stages {best_of(20, parse_stages, text) * 1000:.1f} ms (best of 20)")


if __name__ == "__main__":
    main()
