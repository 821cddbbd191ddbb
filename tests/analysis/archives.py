"""Hand-made docker-archives: exact layers (whiteouts, opaque dirs, hard links) for dive and lamina."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

Member = tuple[tarfile.TarInfo, bytes | None]


def entry(name: str, content: bytes | None = None, *, kind: bytes = tarfile.REGTYPE, mode: int = 0o644,
          linkname: str = "", uid: int = 0, gid: int = 0) -> Member:
    """One tar member; a directory when ``kind`` is DIRTYPE, a link when SYMTYPE/LNKTYPE."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = linkname
    info.uid, info.gid = uid, gid
    info.mtime = 1_700_000_000
    if kind == tarfile.DIRTYPE:
        info.mode = mode if mode != 0o644 else 0o755
    return info, content if kind == tarfile.REGTYPE else None


def layer_tar(members: list[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, content in members:
            if content is not None:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            else:
                archive.addfile(info)
    return buffer.getvalue()


def write_docker_archive(path: Path, layers: list[list[Member]], commands: list[str],
                         tag: str = "corpus:latest") -> Path:
    """A docker-save archive (manifest.json, config, <id>/layer.tar) with one history entry per command.

    A command starting with "#empty " is an empty_layer history entry (ENV, CMD…) with no layer.
    """
    blobs = [layer_tar(members) for members in layers]
    diff_ids = ["sha256:" + hashlib.sha256(blob).hexdigest() for blob in blobs]
    history = []
    for command in commands:
        if command.startswith("#empty "):
            history.append({"created": "2023-11-14T22:13:20Z", "created_by": command[7:], "empty_layer": True})
        else:
            history.append({"created": "2023-11-14T22:13:20Z", "created_by": command})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_names = [f"{diff_id[7:]}/layer.tar" for diff_id in diff_ids]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]).encode()
    with tarfile.open(path, "w") as archive:
        written = set()
        for name, data in [(config_name, config), *zip(layer_names, blobs, strict=True), ("manifest.json", manifest)]:
            if name in written:
                continue
            written.add(name)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return path
