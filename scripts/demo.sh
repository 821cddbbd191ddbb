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
