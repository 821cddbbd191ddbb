"""Helpers for the runtime tests: hand-made layers, running a script, reading trees and mounts."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from lamina.runtime.spec import ProcessSpec
from lamina.runtime.step import StepResult, run_in_snapshot
from lamina.store.store import LayerRecord, Store


def add_layer(store: Store, tar: bytes) -> str:
    """Store an uncompressed layer tar and record it; returns its diffID."""
    digest = store.content.ingest_bytes(tar)
    store.add_layer_record(LayerRecord(digest, digest, "application/vnd.docker.image.rootfs.diff.tar", len(tar), len(tar)))
    return digest


def make_tar(entries: list[tuple[str, str, bytes | str | None]], *, xattrs: dict[str, dict[str, str]] | None = None,
             modes: dict[str, int] | None = None) -> bytes:
    """A layer tar from (name, kind, content) with kind file/dir/symlink; content of a symlink
    is its target."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            info.mode = (modes or {}).get(name, 0o755 if kind == "dir" else 0o644)
            if xattrs and name in xattrs:
                info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs[name].items()}
            data = content.encode() if isinstance(content, str) else (content or b"")
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = data.decode()
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def run(store: Store, layers: list[str], script: str, **kwargs) -> tuple[StepResult, str]:
    """Run ``sh -c script``; returns the result (caller discards) and the output text."""
    chunks: list[bytes] = []
    process_fields = {key: kwargs.pop(key) for key in ("env", "cwd", "user") if key in kwargs}
    process = ProcessSpec(args=["/bin/sh", "-c", script], **process_fields)
    result = run_in_snapshot(store, layers, process, output=chunks.append, **kwargs)
    return result, b"".join(chunks).decode()


def mounts_containing(text: str) -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return [line for line in mountinfo if text in line]


def tree(root: Path) -> dict[str, str]:
    """path → kind/content summary of a directory tree (for comparing applied layers)."""
    listing = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            listing[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            listing[rel] = "dir"
        elif path.is_file():
            listing[rel] = path.read_bytes().decode(errors="replace")
        else:
            listing[rel] = "special"
    return listing
