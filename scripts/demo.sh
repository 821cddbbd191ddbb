#!/usr/bin/env bash
# The main job end to end: make a base image from a local rootfs, import, tag, inspect,
# save, load it back into a fresh store, and check the store.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LAMINA_ROOT="$work/store"

busybox=$(command -v busybox || true)
if [ -z "$busybox" ]; then
  echo "busybox is not installed (Debian: apt-get install busybox-static)" >&2
  exit 1
fi
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp "$busybox" "$work/rootfs/bin/busybox"
for applet in sh ls cat echo env mkdir rm; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -czf "$work/rootfs.tar.gz" .

step() { printf '\n$ %s\n' "$*"; "$@"; }
step lamina import "$work/rootfs.tar.gz" busybox:latest -c 'CMD ["sh"]' -m "busybox-static rootfs"
step lamina tag busybox:latest demo/busybox:1.0
step lamina images
step lamina inspect --format 'ID={{.Id}} Cmd={{json .Config.Cmd}} Layers={{len .RootFS.Layers}}' demo/busybox:1.0
step lamina history busybox
step lamina save -o "$work/busybox.tar" busybox:latest demo/busybox:1.0
export LAMINA_ROOT="$work/store2"
step lamina load -i "$work/busybox.tar"
step lamina images
step lamina fsck
echo
echo "demo finished: the image went through import → tag → inspect → save → load intact"

# ---- containers (issue #6): build a small web image, run it detached with a published port,
# ---- fetch a page from it, look at ps and logs, stop and remove it.
trap 'lamina rm -f web >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/web"
cat > "$work/web/Dockerfile" <<'DOCKERFILE'
FROM busybox:latest
RUN mkdir -p /www && echo "hello from a lamina container" > /www/index.html
EXPOSE 80
CMD ["busybox", "httpd", "-f", "-v", "-p", "80", "-h", "/www"]
DOCKERFILE
step lamina build -t demo/web:1.0 "$work/web"
step lamina run -d --name web -p "127.0.0.1:$port:80" demo/web:1.0
printf '\n$ curl http://127.0.0.1:%s/\n' "$port"
python3 - "$port" <<'PYTHON'
import sys, time, urllib.request
for attempt in range(50):
    try:
        print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2).read().decode(), end="")
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the container did not answer")
PYTHON
step lamina ps
step lamina logs web
step lamina stop -t 2 web
step lamina rm web
step lamina ps -a
echo
echo "containers demo finished: built, ran detached behind 127.0.0.1:$port, served a page, stopped, removed"
