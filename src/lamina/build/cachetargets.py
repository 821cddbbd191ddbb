"""Where an exported build cache lives: a registry repository or an OCI layout directory.

Both hold the same artifact (see :mod:`lamina.build.remotecache`): blobs, then one manifest that
names them. The manifest is always written last, so a reader (or a concurrent writer) sees the
previous complete cache or the new complete one, never a half-written one: a registry's
manifest PUT and a local ``os.replace`` of ``index.json`` are each atomic.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from lamina.build.cachespec import CacheSpec
from lamina.errors import BuildError, ManifestError, UsageError
from lamina.oci import mediatypes as mt
from lamina.store.store import Store

#: a cache manifest larger than this is not a cache lamina wrote (bounded memory on bad input)
MAX_MANIFEST = 4 << 20
_REF_NAME = "org.opencontainers.image.ref.name"


class CacheTarget(Protocol):
    where: str

    def read_manifest(self) -> bytes | None:
        """The cache manifest's bytes, or None when there is none yet."""

    def fetch_blob(self, digest: str, size: int, sink: BinaryIO) -> None:
        """Stream a blob into ``sink`` (the caller verifies its digest)."""

    def push_blob(self, store: Store, digest: str, size: int) -> None:
        """Make the target hold a blob of ``store`` (a no-op when it has it)."""

    def push_bytes(self, data: bytes, digest: str) -> None:
        """Make the target hold a small blob given whole (the cache config)."""

    def push_manifest(self, data: bytes) -> None:
        """Publish the manifest: the last write of an export."""


def open_target(spec: CacheSpec) -> CacheTarget:
    if spec.type == "local":
        return LayoutTarget(Path(spec.path))
    return RegistryTarget(spec.ref)


class RegistryTarget:
    """A tag in a registry repository; layers the store knows in another repository of the same
    registry are mounted rather than uploaded (what push does)."""

    def __init__(self, name: str) -> None:
        from lamina.oci.reference import parse_reference
        from lamina.registry.client import RegistryClient

        self.ref = parse_reference(name)
        if self.ref.digest is not None:
            raise UsageError(f"cache ref {name}: name a tag, not a digest")
        self.where = name
        self.repository = self.ref.path
        self.tag = self.ref.tag or "latest"
        self.client = RegistryClient(self.ref.domain)

    def read_manifest(self) -> bytes | None:
        from lamina.registry.client import RegistryResponseError

        try:
            manifest = self.client.get_manifest(self.repository, self.tag)
        except RegistryResponseError as exc:
            if exc.status == 404:
                return None
            raise
        if len(manifest.data) > MAX_MANIFEST:
            raise ManifestError(f"{self.where}: cache manifest is larger than {MAX_MANIFEST} bytes")
        return manifest.data

    def fetch_blob(self, digest: str, size: int, sink: BinaryIO) -> None:
        self.client.fetch_blob(self.repository, digest, sink, expected_size=size)

    def push_blob(self, store: Store, digest: str, size: int) -> None:
        from lamina.registry.locations import known_locations, record_locations

        sources = [r for r in known_locations(store, self.client.host, digest) if r != self.repository]
        self.client.upload_blob(self.repository, digest, size, lambda: store.content.open(digest),
                                mount_from=sources[0] if sources else None)
        record_locations(store, self.client.host, self.repository, [digest])

    def push_bytes(self, data: bytes, digest: str) -> None:
        self.client.upload_blob(self.repository, digest, len(data), lambda: io.BytesIO(data))

    def push_manifest(self, data: bytes) -> None:
        self.client.put_manifest(self.repository, self.tag, data, mt.OCI_MANIFEST)


class LayoutTarget:
    """An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/``), as BuildKit's
    ``type=local``: its index names one manifest, the cache."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def _blob(self, digest: str) -> Path:
        algorithm, _, encoded = digest.partition(":")
        if not encoded or "/" in encoded or "/" in algorithm:
            raise ManifestError(f"{self.where}: bad digest {digest!r}")
        return self.path / "blobs" / algorithm / encoded

    def read_manifest(self) -> bytes | None:
        index_path = self.path / "index.json"
        try:
            if index_path.stat().st_size > MAX_MANIFEST:
                raise ManifestError(f"{index_path}: larger than {MAX_MANIFEST} bytes")
            index = json.loads(index_path.read_bytes())
        except FileNotFoundError:
            return None
        except (ValueError, OSError) as exc:
            raise ManifestError(f"{index_path}: not an OCI index: {exc}") from None
        manifests = index.get("manifests") if isinstance(index, dict) else None
        if not manifests or not isinstance(manifests[0], dict):
            return None
        descriptor = manifests[0]
        sink = io.BytesIO()
        self.fetch_blob(str(descriptor.get("digest")), int(descriptor.get("size") or 0), sink)
        return sink.getvalue()

    def fetch_blob(self, digest: str, size: int, sink: BinaryIO) -> None:
        path = self._blob(digest)
        try:
            with open(path, "rb") as blob:
                if os.fstat(blob.fileno()).st_size != size:
                    raise ManifestError(f"{path}: size differs from the {size} bytes its descriptor says")
                while chunk := blob.read(1 << 20):
                    sink.write(chunk)
        except FileNotFoundError:
            raise ManifestError(f"{self.where}: blob {digest} is missing") from None

    def push_blob(self, store: Store, digest: str, size: int) -> None:
        if self._blob(digest).exists():
            return
        self._write(self._blob(digest), lambda: store.content.open(digest))

    def push_bytes(self, data: bytes, digest: str) -> None:
        if not self._blob(digest).exists():
            self._write(self._blob(digest), lambda: io.BytesIO(data))

    def push_manifest(self, data: bytes) -> None:
        from lamina.oci.digest import sha256_digest

        digest = sha256_digest(data)
        self.push_bytes(data, digest)
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                 "manifests": [{"mediaType": mt.OCI_MANIFEST, "digest": digest, "size": len(data),
                                "annotations": {_REF_NAME: "buildcache"}}]}
        self._write(self.path / "oci-layout", lambda: io.BytesIO(b'{"imageLayoutVersion":"1.0.0"}'))
        self._write(self.path / "index.json", lambda: io.BytesIO(json.dumps(index).encode()))

    @staticmethod
    def _write(path: Path, open_reader: Callable[[], IO[bytes]]) -> None:
        """A file written whole under a temp name, then renamed: readers never see half of it."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                with os.fdopen(handle, "wb") as out, open_reader() as reader:
                    while chunk := reader.read(1 << 20):
                        out.write(chunk)
                os.replace(temp, path)
            except BaseException:
                os.unlink(temp)
                raise
        except OSError as exc:
            raise BuildError(f"{path}: cannot write the cache: {exc.strerror or exc}") from None
