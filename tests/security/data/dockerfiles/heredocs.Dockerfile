# syntax=docker/dockerfile:1
FROM debian:12.5
RUN <<EOF
apt-get install curl
cd /x
EOF

RUN cat <<EOF > /etc/motd
cd /not-a-command
sudo rm -rf /
EOF

RUN python3 <<EOF
print("sudo")
EOF

COPY <<EOF /etc/app.conf
key=value
EOF

RUN --mount=type=cache,target=/root/.cache <<EOT bash
set -e
cd /srv
pip install requests
EOT

