"""Which manifest of a multi-platform index an image source opens.

docker's rule: the entry whose os/architecture/variant match the wanted platform, else one
whose os/architecture match (a variant-less arm64 entry serves arm64/v8); nothing else.
"""

from __future__ import annotations

from lamina.errors import ManifestError
from lamina.oci.models import Descriptor
from lamina.oci.platform import Platform, host_platform, parse_platform


def wanted_platform(platform: str | None) -> Platform:
    """``os/arch[/variant]`` as given, or this machine's platform."""
    return parse_platform(platform) if platform else host_platform()


def choose_manifest(manifests: list[Descriptor], wanted: Platform, where: str) -> Descriptor:
    """The index entry for ``wanted``; ManifestError naming ``where`` and what it offers if none."""
    listed = [d for d in manifests if d.platform is not None]
    for descriptor in listed:
        if wanted.matches(descriptor.platform.os, descriptor.platform.architecture, descriptor.platform.variant or ""):
            return descriptor
    for descriptor in listed:
        if (descriptor.platform.os, descriptor.platform.architecture) == (wanted.os, wanted.architecture):
            return descriptor
    available = ", ".join(_text(d) for d in listed)
    raise ManifestError(f"{where}: no image for {wanted}" + (f" (available: {available})" if available else ""))


def _text(descriptor: Descriptor) -> str:
    platform = descriptor.platform
    text = f"{platform.os}/{platform.architecture}"
    return f"{text}/{platform.variant}" if platform.variant else text
