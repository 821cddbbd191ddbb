FROM ubuntu:22.04
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
    && install -m 0755 -d /etc/apt/keyrings \
    && curl -fsSL https://download.docker.com/linux/ubuntu/gpg | gpg --dearmor -o /etc/apt/keyrings/docker.gpg \
    && echo "deb [arch=$(dpkg --print-architecture)] https://download.docker.com/linux/ubuntu $(. /etc/os-release && echo "$VERSION_CODENAME") stable" \
       | tee /etc/apt/sources.list.d/docker.list > /dev/null \
    && apt-get update && apt-get install -y docker-ce-cli \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN case "$(uname -m)" in \
      x86_64) arch=amd64 ;; \
      aarch64) arch=arm64 ;; \
      *) echo "unsupported"; exit 1 ;; \
    esac; \
    wget -O /usr/local/bin/tini "https://github.com/krallin/tini/releases/download/v0.19.0/tini-${arch}"; \
    chmod +x /usr/local/bin/tini
RUN f() { echo "$1"; }; f hello
RUN if [ "$(id -u)" = "0" ]; then echo root; else sudo -n true; fi
RUN for pkg in a b c; do pip install "$pkg"; done
RUN while read -r line; do echo "$line"; done < /etc/hosts
RUN (cd /tmp && make) && { echo a; echo b; }
RUN [ -f /x ] && echo yes || echo no
RUN echo $((1 + 2)) && echo ${HOME:-/root} && echo "${PATH//:/ }"
RUN export FOO=bar && env | grep FOO
RUN apt-get -y install --no-install-recommends python3=3.10* python3-pip
ENTRYPOINT ["/usr/local/bin/tini", "--"]
CMD ["bash"]
