"""Test images written as docker-archives from plain file lists, for lamina and Trivy alike.

Both scanners read the very same archive, so a difference in their reports is a difference in
the scanners, never in the input.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

# One layer: path -> bytes for a file, None for a directory, "whiteout" entries as ".wh.<name>".
LayerFiles = dict[str, bytes | None]


def layer_tar(files: LayerFiles) -> bytes:
    """A deterministic uncompressed layer tar of ``files`` (parents first, as docker writes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        seen: set[str] = set()
        for path in sorted(files):
            parts = path.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent not in seen and parent not in files:
                    seen.add(parent)
                    info = tarfile.TarInfo(parent)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                    archive.addfile(info)
            content = files[path]
            info = tarfile.TarInfo(path)
            info.mtime = 0
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            else:
                info.mode, info.size = 0o644, len(content)
                archive.addfile(info, io.BytesIO(content))
            seen.add(path)
    return buffer.getvalue()


def write_docker_archive(path: Path, layers: list[LayerFiles], *, config: dict | None = None,
                         history: list[dict] | None = None, tag: str = "scantest:latest") -> Path:
    """Write a docker-archive (``docker save`` layout) with these layers and image config."""
    blobs = [layer_tar(files) for files in layers]
    diff_ids = ["sha256:" + hashlib.sha256(blob).hexdigest() for blob in blobs]
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": config or {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history or [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {n}"}
                               for n in range(len(blobs))],
    }
    config_bytes = json.dumps(image_config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_names = [f"{diff_id[7:]}/layer.tar" for diff_id in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]
    with tarfile.open(path, "w") as archive:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
        add(config_name, config_bytes)
        for name, blob in zip(layer_names, blobs, strict=True):
            add(name, blob)
        add("manifest.json", json.dumps(manifest).encode())
        add("repositories", json.dumps({tag.split(":")[0]: {tag.split(":")[1]: diff_ids[-1][7:]}}).encode())
    return path


def docker_archive_of_rootfs_tar(path: Path, rootfs_tar: Path, *, tag: str = "rootfs:latest") -> Path:
    """A one-layer docker-archive whose layer is an existing (large) tar, streamed, never loaded whole."""
    digest = hashlib.sha256()
    with open(rootfs_tar, "rb") as layer:
        for block in iter(lambda: layer.read(1 << 20), b""):
            digest.update(block)
    diff_id = "sha256:" + digest.hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                         "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["bash"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "debootstrap"}]}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo(config_name)
        info.size = len(config)
        archive.addfile(info, io.BytesIO(config))
        archive.add(str(rootfs_tar), arcname=f"{diff_id[7:]}/layer.tar")
        manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [f"{diff_id[7:]}/layer.tar"]}])
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest.encode()))
    return path


SITE_PACKAGES = "usr/local/lib/python3.11/site-packages"
# A Python app's installed distributions: old enough that the real PyPI advisories in data/ affect them.
PYTHON_APP = {"requests": "2.25.0", "Jinja2": "2.10", "urllib3": "1.24.1", "PyYAML": "5.3", "Werkzeug": "2.2.2",
              "aiohttp": "3.9.4"}


def python_app_archive(path: Path, *, tag: str = "myapp:latest") -> Path:
    """myapp: the PYTHON_APP distributions pip-installed (dist-info METADATA) over a base layer."""
    app = {f"{SITE_PACKAGES}/{name}-{version}.dist-info/METADATA":
           f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n".encode()
           for name, version in PYTHON_APP.items()}
    history = [{"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:1 in / "},
               {"created": "2024-01-01T00:00:00Z", "created_by": '/bin/sh -c #(nop)  CMD ["python3"]',
                "empty_layer": True},
               {"created": "2024-01-01T00:00:00Z", "created_by": "RUN /bin/sh -c pip install -r requirements.txt"
                                                                 " # buildkit"}]
    return write_docker_archive(path, [{"etc/hostname": b"myapp-build\n"}, app], history=history,
                                config={"User": "app"}, tag=tag)
