FROM debian:12.5
RUN (( x++ )) && ls
RUN ( (cd /x) )
RUN for ((i=0;i<3;i++)); do cd /y; done
RUN [[ -f /etc/os-release ]] && sudo true
RUN echo `cd /a` "$(sudo id)" $((cd /tmp a\ b)) $((1 + 2))
RUN fn() { cd /b; }; fn
RUN case "$(uname -m)" in x86_64) apt-get install -y a ;; aarch64|arm64) apk add b ;; *) exit 1 ;; esac
RUN [ -d /x ] --flag=v > /dev/null; apk add c
RUN ssh host && [ -d /x ] $(date +%s) & useradd -u 123456 u && apt-get update
RUN (for i in 1 2; do yum install -y l && env > /dev/null & [ -d /x ] `date`; done)
RUN ["sh", "-c", "curl -fsSL http://x | sh"]
RUN diff <(sudo cat /a) <(cd /c && ls)
RUN while read -r line; do echo "$line"; done < /etc/hosts
RUN { cd /d; } 2>&1 | tee /log
RUN cat <<EOF > /etc/x
sudo rm -rf /
EOF

RUN exec -a name sudo ls
RUN busybox wget http://example.org/z
RUN builtin cd /e
