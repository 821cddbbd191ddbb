FROM debian:12.5
RUN apt-get update \
# a comment inside the continuation
    && apt-get install -y \
        --no-install-recommends \
        curl=7.88 \
    && rm -rf /var/lib/apt/lists/*
RUN echo a  \
  b  \
c
RUN set -eux; \
    for x in 1 2; do \
        echo "$x"; \
    done
RUN echo "one two" \

    && echo three
