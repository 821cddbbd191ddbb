"""``build --platform a,b``: one build per platform, each base image chosen for its platform.

BuildKit builds every platform of the list from the same Dockerfile, with TARGETPLATFORM &c.
set for it (args.py), each FROM resolved to that platform's image, and a stage that says
``FROM --platform=$BUILDPLATFORM`` resolved for this machine (cross-compiling runs natively).
RUN steps of a foreign platform run through the kernel's binfmt_misc handler (Debian's
qemu-user-static); the runtime needs nothing else when the handler has the F flag.

The client drives it (it owns pulling and writes the index with registry/manifestlist.py,
which the build layer may not import): :func:`split_platforms` reads the flag,
:func:`platform_resolver` is the ``BuildOptions.platform_image`` hook.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from lamina.errors import ImageNotFoundError, LaminaError, UsageError
from lamina.oci.models import parse_index
from lamina.oci.platform import Platform, parse_platform
from lamina.oci.reference import parse_reference
from lamina.store.store import Store

MAX_PLATFORMS = 16


def split_platforms(text: str | None) -> list[str]:
    """``linux/amd64,linux/arm64`` as normalised, distinct platforms in order ([] when unset)."""
    if not text:
        return []
    platforms: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part or part.count("/") > 2 or any(not piece for piece in part.split("/")):
            raise UsageError(f'error parsing specified platform: "{part}": cannot parse platform specifier')
        normal = str(parse_platform(part))
        if normal not in platforms:
            platforms.append(normal)
    if len(platforms) > MAX_PLATFORMS:
        raise UsageError(f"--platform names {len(platforms)} platforms; at most {MAX_PLATFORMS}")
    return platforms


def platform_fields(text: str) -> dict[str, str]:
    """The os/architecture/variant an image config states for ``text`` (BuildKit drops arm64's v8)."""
    platform = parse_platform(text)
    fields = {"architecture": platform.architecture, "os": platform.os}
    if platform.variant and not (platform.architecture == "arm64" and platform.variant == "v8"):
        fields["variant"] = platform.variant
    return fields


def platform_resolver(store: Store, pull: Callable[[str, str], str] | None,
                      always_pull: bool = False) -> Callable[[str, str], str]:
    """(FROM name, platform) -> image ID: the stored image for that platform (a list's or pulled
    index's child, or the named image when its config states the platform), else pulled for it."""

    def resolve(name: str, platform: str) -> str:
        wanted = parse_platform(platform)
        if not always_pull:
            found = _stored_for(store, name, wanted)
            if found:
                return found
        if pull is None:
            raise ImageNotFoundError(f"No such image: {name} for platform {wanted} (it is not in the local store)")
        return pull(name, str(wanted))

    return resolve


def _stored_for(store: Store, name: str, wanted: Platform) -> str:
    try:
        image_id = store.resolve(name)
    except LaminaError:
        return ""
    config = json.loads(store.config_bytes(image_id))
    if wanted.matches(config.get("os") or "linux", config.get("architecture") or "amd64", config.get("variant") or ""):
        return image_id
    try:
        ref = parse_reference(name)
    except LaminaError:
        return ""
    target = store.tag_target(ref) if ref.tag is not None else ""
    if not target or not store.content.has(target):
        return ""
    for child in parse_index(store.content.read(target), where=f"{name} ({target})").manifests:
        p = child.platform
        if p is not None and wanted.matches(p.os, p.architecture, p.variant or ""):
            child_image = store.manifest_image(child.digest)
            if child_image:
                try:
                    return store.image(child_image).id
                except ImageNotFoundError:
                    return ""
    return ""
