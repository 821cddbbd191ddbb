"""Images for the SBOM tests: small in-memory images from layer files, and archives for the peers."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

Member = tuple[str, bytes | str | None]  # (path, content) — bytes: file, str: symlink target, None: directory


def layer_tar(members: list[Member]) -> bytes:
    """One uncompressed layer tar: bytes are files, a str is a symlink target, None a directory."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class MemoryLayer:
    """An uncompressed layer held in memory (the Image/Layer protocol, for tests)."""

    media_type = "application/vnd.oci.image.layer.v1.tar"

    def __init__(self, tar: bytes):
        self.tar = tar
        self.digest = self.diff_id = sha256(tar)
        self.size = len(tar)

    def open_compressed(self):
        return io.BytesIO(self.tar)

    def open_uncompressed(self):
        return io.BytesIO(self.tar)


class FileLayer:
    """An uncompressed layer tar on disk (a big base layer the tests should not hold in memory)."""

    media_type = "application/vnd.oci.image.layer.v1.tar"

    def __init__(self, path: Path):
        self.path = path
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        self.digest = self.diff_id = "sha256:" + digest.hexdigest()
        self.size = path.stat().st_size

    def open_compressed(self):
        return open(self.path, "rb")

    def open_uncompressed(self):
        return open(self.path, "rb")


class MemoryImage:
    """A single-platform image from layer tars (bytes or FileLayers), with a docker-style config."""

    def __init__(self, layers: list[bytes | FileLayer], name: str = "test:latest"):
        self.name = name
        self._layers = [layer if isinstance(layer, FileLayer) else MemoryLayer(layer) for layer in layers]
        config = {"architecture": "amd64", "os": "linux", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in self._layers]}}
        self._config = json.dumps(config, sort_keys=True).encode()

    def manifest_bytes(self) -> bytes:
        return json.dumps({"schemaVersion": 2, "config": {"digest": self.config_digest()},
                           "layers": [{"digest": layer.digest} for layer in self._layers]}).encode()

    def manifest_media_type(self) -> str:
        return "application/vnd.oci.image.manifest.v1+json"

    def manifest_digest(self) -> str:
        return sha256(self.manifest_bytes())

    def config_bytes(self) -> bytes:
        return self._config

    def config_digest(self) -> str:
        return sha256(self._config)

    def layers(self):
        return list(self._layers)

    def close(self) -> None:
        pass

    def docker_archive(self, path: Path, tag: str = "test:latest") -> Path:
        """Write the image as a docker-archive (``docker save`` layout) for the peer tools."""
        with tarfile.open(path, "w") as tar:
            def add(name: str, data: bytes) -> None:
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), 1700000000
                tar.addfile(info, io.BytesIO(data))
            config_name = self.config_digest().split(":")[1] + ".json"
            add(config_name, self._config)
            layer_names = []
            for layer in self._layers:
                name = layer.diff_id.split(":")[1] + "/layer.tar"
                if isinstance(layer, FileLayer):
                    tar.add(layer.path, arcname=name)
                else:
                    add(name, layer.tar)
                layer_names.append(name)
            add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [tag],
                                               "Layers": layer_names}]).encode())
        return path


@pytest.fixture
def memory_image():
    """Build a MemoryImage from lists of layer members."""
    def build(*layers: list[Member]) -> MemoryImage:
        return MemoryImage([layer_tar(members) for members in layers])
    return build
