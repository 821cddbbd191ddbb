"""An image into an OCI image layout directory (skopeo's ``oci:DIR[:REF]``).

Blobs already in the layout are kept (content addressed: same digest, same bytes); new ones
are written to a temp file beside their place, verified, then renamed, so a failed copy never
leaves a wrong blob under a right name. index.json is rewritten atomically: the entry with
the same ``org.opencontainers.image.ref.name`` is replaced, the others stay.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from lamina.errors import ArchiveError, DigestMismatchError
from lamina.image.archive_writer import LAYOUT_VERSION, blob_path
from lamina.image.base import Image
from lamina.oci import mediatypes as mt
from lamina.oci.digest import Hasher

REF_NAME = "org.opencontainers.image.ref.name"


def write_oci_layout(image: Image, directory: str, ref_name: str | None = None) -> str:
    """Add ``image`` to the layout at ``directory`` (made if missing); returns its manifest digest."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise ArchiveError(f"oci:{directory}: exists and is not a directory")
    index = _read_index(root, directory)
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    layout_file = root / "oci-layout"
    if not layout_file.exists():
        _write_atomically(layout_file, LAYOUT_VERSION)
    _put_bytes(root, image.config_digest(), image.config_bytes())
    for layer in image.layers():
        if _has_blob(root, layer.digest, layer.size):
            continue
        stored = getattr(layer, "path", None)
        with (open(stored, "rb") if stored else layer.open_compressed()) as stream:
            _put_stream(root, layer.digest, layer.size, stream)
    digest = image.manifest_digest()
    manifest = image.manifest_bytes()
    _put_bytes(root, digest, manifest)
    descriptor: dict = {"mediaType": image.manifest_media_type(), "digest": digest, "size": len(manifest)}
    if ref_name:
        descriptor["annotations"] = {REF_NAME: ref_name}
        index["manifests"] = [d for d in index["manifests"] if (d.get("annotations") or {}).get(REF_NAME) != ref_name]
    else:
        index["manifests"] = [d for d in index["manifests"] if d.get("digest") != digest or d.get("annotations")]
    index["manifests"].append(descriptor)
    _write_atomically(root / "index.json", json.dumps(index, separators=(",", ":")).encode() + b"\n")
    return digest


def _read_index(root: Path, directory: str) -> dict:
    path = root / "index.json"
    if not path.exists():
        return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}
    try:
        index = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"oci:{directory}: index.json is not valid JSON ({exc})") from None
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise ArchiveError(f"oci:{directory}: index.json has no manifests list")
    return index


def _has_blob(root: Path, digest: str, size: int) -> bool:
    path = root / blob_path(digest)
    return path.is_file() and path.stat().st_size == size


def _put_bytes(root: Path, digest: str, data: bytes) -> None:
    if not _has_blob(root, digest, len(data)):
        _write_atomically(root / blob_path(digest), data)


def _put_stream(root: Path, digest: str, size: int, stream) -> None:
    target = root / blob_path(digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        hasher = Hasher.for_digest(digest)
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(1 << 20):
                hasher.update(chunk)
                if hasher.size > size:
                    raise DigestMismatchError(f"layer {digest}: larger than its size {size}")
                out.write(chunk)
        hasher.verify(digest, size, "layer")
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
