"""lamina analyze equals dive on images lamina builds: RUN deletions, chmods, hard links, COPY
overwrites, a directory removed and made again (an opaque directory), a multi-stage result, and a
Debian image with package lists and docs left behind.

Each image is saved with ``lamina save`` and given to dive as a docker-archive; lamina reads the
same image from its store and from the archive. The JSON must equal dive's except the layers'
``id`` (dive names them by their path in the archive: "blobs" for an OCI-layout archive; lamina
by the diffID), and the CI report must equal dive's line for line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.analysis.oracle import run_dive

pytestmark = pytest.mark.slow

BUSYBOX_STEPS = """\
FROM busybox:latest
RUN busybox dd if=/dev/zero of=/big bs=1024 count=1024
RUN busybox rm /big
RUN busybox chmod 700 /bin/busybox
RUN busybox ln /bin/busybox /bin/bb-hard
COPY conf /etc/app.conf
COPY conf2 /etc/app.conf
ENV MODE=test
RUN busybox mkdir -p /app/sub && echo x > /app/sub/x && echo y > /app/y
RUN busybox rm -rf /app && busybox mkdir -p /app && echo n > /app/n
"""

MULTI_STAGE = """\
FROM busybox:latest AS build
RUN busybox mkdir /out && echo hi > /out/a && busybox dd if=/dev/zero of=/out/big bs=1024 count=300
FROM busybox:latest
COPY --from=build /out /srv
RUN busybox rm /srv/big && echo more >> /srv/a
"""

DEBIAN_LEFTOVERS = """\
FROM debian:bookworm
RUN cp -a /var/lib/dpkg /var/tmp/dpkg-copy && cp -a /usr/share/doc /var/tmp/doc-copy
RUN rm -rf /usr/share/doc /var/tmp/doc-copy /var/lib/apt/lists/* && ln -s /var/tmp/dpkg-copy /opt/dpkg
"""


def _build(lamina, context: Path, dockerfile: str, tag: str) -> Path:
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    (context / "conf").write_text("one\n")
    (context / "conf2").write_text("two-two\n")
    lamina.out("build", "-q", "-t", tag, str(context))
    archive = context.parent / f"{tag.replace(':', '_')}.tar"
    lamina.out("save", "-o", str(archive), tag)
    return archive


def _without_layer_ids(document: bytes) -> dict:
    """The export without the layers' ids, inefficient files of equal size in path order (dive
    orders ties with Go's unstable sort; lamina keeps the order it found them in)."""
    parsed = json.loads(document)
    for layer in parsed["layer"]:
        layer.pop("id")
    references = parsed["image"]["fileReference"]
    sizes = [reference["sizeBytes"] for reference in references]
    assert sizes == sorted(sizes, reverse=True)
    references.sort(key=lambda reference: (-reference["sizeBytes"], reference["file"]))
    return parsed


def _assert_equals_dive(lamina, tag: str, archive: Path, workdir: Path) -> dict:
    dive = run_dive(archive, workdir)
    from_store = workdir / "store.json"
    from_archive = workdir / "archive.json"
    lamina.out("analyze", "--json", str(from_store), tag)
    lamina.out("analyze", "--json", str(from_archive), f"docker-archive:{archive}")
    assert from_store.read_bytes() == from_archive.read_bytes()
    assert _without_layer_ids(from_archive.read_bytes()) == _without_layer_ids(dive.json_bytes)
    ci = lamina.run("analyze", "--ci", tag, check=False)
    ours = [line for line in ci.stdout.decode().splitlines() if line.strip()]
    assert sorted(ours) == sorted(dive.ci_lines)  # the same lines; ties may be listed in another order
    assert ours[:5] == dive.ci_lines[:5]
    assert ci.returncode == dive.ci_exit
    return json.loads(dive.json_bytes)


def test_busybox_steps_equal_dive(lamina, imported_busybox, tmp_path: Path, dive_workdir: Path) -> None:
    archive = _build(lamina, tmp_path / "ctx", BUSYBOX_STEPS, "corpus:steps")
    dive = _assert_equals_dive(lamina, "corpus:steps", archive, dive_workdir)
    wasted = {reference["file"]: reference for reference in dive["image"]["fileReference"]}
    assert wasted["/big"]["sizeBytes"] == 1 << 20  # the corpus is what it claims to be
    assert wasted["/bin/busybox"]["count"] == 3


def test_multi_stage_result_equals_dive(lamina, imported_busybox, tmp_path: Path, dive_workdir: Path) -> None:
    archive = _build(lamina, tmp_path / "ctx", MULTI_STAGE, "corpus:multi")
    dive = _assert_equals_dive(lamina, "corpus:multi", archive, dive_workdir)
    assert {reference["file"] for reference in dive["image"]["fileReference"]} == {"/srv/big", "/srv/a"}


def test_debian_leftovers_equal_dive(lamina, debian_rootfs_tar: Path, tmp_path: Path, dive_workdir: Path) -> None:
    lamina.out("import", str(debian_rootfs_tar), "debian:bookworm")
    archive = _build(lamina, tmp_path / "ctx", DEBIAN_LEFTOVERS, "corpus:debian")
    dive = _assert_equals_dive(lamina, "corpus:debian", archive, dive_workdir)
    assert dive["image"]["inefficientBytes"] > 1_000_000
