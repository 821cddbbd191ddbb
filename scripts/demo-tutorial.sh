#!/usr/bin/env bash
# The tutorial end to end: a Debian base image (pulled, or made with debootstrap when none can
# be pulled), the Flask app of examples/flask-app built with `lamina build`, run detached with
# a published port and asked for its page, pushed to a registry, pulled into a second store
# (the "other host") and run there too.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
cache=${LAMINA_DEMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lamina-demo}
mkdir -p "$cache"
export LAMINA_ROOT="$work/host-a"
registry_pid=""
cleanup() {
  LAMINA_ROOT="$work/host-a" lamina rm -f myapp >/dev/null 2>&1 || true
  LAMINA_ROOT="$work/host-b" lamina rm -f myapp-b >/dev/null 2>&1 || true
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n$ %s\n' "$*"; "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fetch() {  # fetch http://127.0.0.1:$1/ and print it, waiting for the app to listen
  python3 - "$1" <<'PYTHON'
import sys, time, urllib.request
for attempt in range(150):
    try:
        print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2).read().decode(), end="")
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("the app did not answer")
PYTHON
}

echo "== 1. a Debian base image"
if ! timeout 30 lamina pull -q debian:bookworm >/dev/null 2>&1; then
  if [ ! -f "$cache/rootfs-bookworm/etc/debian_version" ]; then
    echo "no registry to pull debian:bookworm from: making it with debootstrap --variant=minbase (a minute or two)"
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    rm -rf "$cache/rootfs-bookworm"
    debootstrap --variant=minbase bookworm "$cache/rootfs-bookworm" ${mirror:+"$mirror"} >"$cache/debootstrap.log" 2>&1
  fi
  tar -C "$cache/rootfs-bookworm" -c . | lamina import - debian:bookworm >/dev/null
fi
step lamina images debian

echo
echo "== 2. build the tutorial's app"
secret=()
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
  secret=(--secret "id=pipcert,src=$PIP_CERT")  # the proxy's CA, for pip only, never in the image
fi
step lamina build -t myapp:latest "${secret[@]}" --network host "$here/examples/flask-app"
step lamina history myapp:latest

echo
echo "== 3. run it"
port=$(free_port)
step lamina run -d --name myapp -p "127.0.0.1:$port:5000" myapp:latest
printf '\n$ curl http://127.0.0.1:%s/\n' "$port"
fetch "$port"
step lamina ps
step lamina logs myapp
step lamina stop myapp

echo
echo "== 4. ship it through a registry to another host"
registry_port=$(free_port)
mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: 127.0.0.1:$registry_port
YML
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$registry_port/v2/" >/dev/null 2>&1 && break; sleep 0.2; done
step lamina tag myapp:latest "127.0.0.1:$registry_port/myapp:v1.2"
step lamina push "127.0.0.1:$registry_port/myapp:v1.2"
export LAMINA_ROOT="$work/host-b"   # a second, empty store: the other host
step lamina pull "127.0.0.1:$registry_port/myapp:v1.2"
port_b=$(free_port)
step lamina run -d --name myapp-b -p "127.0.0.1:$port_b:5000" "127.0.0.1:$registry_port/myapp:v1.2"
printf '\n$ curl http://127.0.0.1:%s/\n' "$port_b"
fetch "$port_b"
step lamina rm -f myapp-b

echo
echo "== 5. scan it: image scanning and security verification, offline"
# a vulnerability database from OSV records kept in the repository (pypa/advisory-database)
step lamina db import "$here/tests/security/data/osv-pypi"
step lamina db status
step lamina sbom -f table "127.0.0.1:$registry_port/myapp:v1.2"
step lamina scan "127.0.0.1:$registry_port/myapp:v1.2"
printf '\n$ lamina scan --severity HIGH,CRITICAL --exit-code 1 myapp (a CI gate)\n'
if lamina scan --severity HIGH,CRITICAL --exit-code 1 "127.0.0.1:$registry_port/myapp:v1.2" >/dev/null 2>&1; then
  echo "the gate passed, but werkzeug 3.0.0 has a HIGH advisory: the scan missed it" >&2
  exit 1
fi
echo "the gate stopped the image: a HIGH vulnerability with a fixed version is known"
echo
echo "tutorial finished: built, ran, pushed, pulled on a second store, ran again and scanned"
if [ -f "$cache/rootfs-bookworm/etc/debian_version" ]; then
  echo "the Debian base rootfs stays in $cache/rootfs-bookworm; to have it in your own store:"
  echo "  tar -C $cache/rootfs-bookworm -c . | lamina import - debian:bookworm"
fi
