FROM ubuntu:22.04
RUN cd /tmp && ls
RUN sudo make install
RUN service nginx start
RUN ps aux && top -b -n 1 && free -m
RUN ssh user@host uptime
RUN kill -9 1 || true
RUN vim --version && mount | grep proc
RUN ifconfig
RUN useradd -u 1234567 app
RUN useradd -l -u 1234567 app2
RUN useradd --no-log-init --uid 2000000 app3
RUN useradd -u 1000 app4
RUN wget http://example.org/file
RUN wget -q http://example.org/file
RUN wget --progress=dot:giga http://example.org/file
RUN wget -nv http://example.org/file -O /tmp/f
RUN curl -fsSL http://example.org/file -o /tmp/f
RUN ln -s /bin/bash /bin/sh
RUN ln -sf /bin/bash /usr/local/bin/sh
RUN if [ -d /x ]; then cd /x; fi
RUN for f in a b; do sudo echo "$f"; done
RUN echo "$(sudo id)"
RUN exec sudo true
RUN command -v sudo && busybox sudo x
RUN x=1 sudo true
