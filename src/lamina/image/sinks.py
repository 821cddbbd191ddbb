"""Where an image can be written, by spec (the grammar of lamina.image.spec):

    docker-archive:PATH[:REF]   a ``docker save`` archive, REF as its RepoTag
    oci-archive:PATH[:REF]      a tar of an OCI layout, REF as the ref.name annotation
    oci:DIR[:REF]               an OCI layout directory (made, or added to)
    store:REF                   the local store (through load's checks), tagged REF
    docker://REF, REF           a registry

Archives are written to a temp file beside PATH and renamed when complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO

from lamina.errors import LaminaError, UsageError
from lamina.image.base import Image
from lamina.image.spec import parse_spec
from lamina.oci.reference import parse_reference
from lamina.store.store import Store


def write_image(image: Image, spec: str, *, root: str | None = None, store: Store | None = None,
                events=None) -> str:
    """Write ``image`` where ``spec`` says; returns the manifest digest written (the image ID
    for the store, which keeps no manifest of its own)."""
    from lamina.image.archive_writer import ArchiveEntry, write_docker_archive, write_oci_archive

    parsed = parse_spec(spec)
    if parsed.transport == "docker-archive":
        refs = [_tag(parsed.ref, spec)] if parsed.ref else []
        _write_file(parsed.location, lambda out: write_docker_archive([ArchiveEntry(image, refs)], out))
        return image.manifest_digest()
    if parsed.transport == "oci-archive":
        _write_file(parsed.location, lambda out: write_oci_archive([ArchiveEntry(image, [], parsed.ref)], out))
        return image.manifest_digest()
    if parsed.transport == "oci":
        from lamina.image.layout_writer import write_oci_layout

        return write_oci_layout(image, parsed.location, parsed.ref)
    if parsed.transport == "store":
        from lamina.image.store_sink import write_to_store

        own = store is None
        store = store or Store(root)
        try:
            return write_to_store(image, store, [_tag(parsed.location, spec)], what=spec).image_id
        finally:
            if own:
                store.close()
    from lamina.image.registry_sink import write_to_registry

    return write_to_registry(image, parsed.location, events=events)


def _tag(text: str, spec: str):
    try:
        ref = parse_reference(text)
    except LaminaError as exc:
        raise UsageError(f"{spec}: {exc}") from None
    if ref.tag is None:
        raise UsageError(f"{spec}: {text} is not a tag (a digest cannot name an image in an archive or the store)")
    return ref


def _write_file(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write a whole file or none: a temp file in the same directory, renamed when complete."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: {directory} is not a directory")
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".lamina-")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
