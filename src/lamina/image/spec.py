"""Image specs: where an image is, in skopeo's transport grammar plus docker's plain names.

    docker-archive:PATH[:REF]   a ``docker save`` tar (REF: a RepoTag in it, or @N)
    oci-archive:PATH[:REF]      a tar of an OCI image layout (REF: its ref.name annotation)
    oci:DIR[:REF]               an OCI image layout directory
    docker://REF                a registry, even when the store has an image of that name
    store:REF                   the local store, never a registry
    REF                         the local store if it has REF (name or ID), else a registry

As in skopeo, PATH ends at its first colon, unless the whole rest names an existing file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lamina.errors import UsageError

FILE_TRANSPORTS = ("docker-archive", "oci-archive", "oci")
TRANSPORTS = (*FILE_TRANSPORTS, "docker", "store")


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """A parsed spec. ``transport`` is '' for a plain name (store, else registry)."""

    text: str
    transport: str
    location: str  # a path for the file transports, else an image reference
    ref: str | None = None

    @property
    def is_file(self) -> bool:
        return self.transport in FILE_TRANSPORTS

    @property
    def is_registry(self) -> bool:
        return self.transport == "docker"


def parse_spec(text: str) -> ImageSpec:
    """Split an image spec into transport, location and (for files) the image reference in it."""
    if text.startswith("docker://"):
        reference = text[len("docker://"):]
        if not reference:
            raise UsageError(f"invalid image spec {text!r}: docker:// needs a reference")
        return ImageSpec(text, "docker", reference)
    transport, colon, rest = text.partition(":")
    if colon and transport == "store":
        if not rest:
            raise UsageError(f"invalid image spec {text!r}: store: needs an image name or ID")
        return ImageSpec(text, "store", rest)
    if colon and transport in FILE_TRANSPORTS:
        if not rest:
            raise UsageError(f"invalid image spec {text!r}: {transport}: needs a path")
        path, ref = rest, None
        if not os.path.exists(rest) and ":" in rest:
            path, ref = rest.split(":", 1)
            ref = ref or None
        return ImageSpec(text, transport, path, ref)
    if not text:
        raise UsageError("invalid image spec '': empty")
    return ImageSpec(text, "", text)
