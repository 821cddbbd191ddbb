"""Images wherever they are: one protocol (base.py), sources that produce it, sinks that write it.

    from lamina.image import open_image
    with open_image("docker-archive:busybox.tar") as image:
        print(image.manifest_digest(), [layer.diff_id for layer in image.layers()])

The spec grammar is in spec.py. Sources are imported when first used, so importing this
package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.image.base import Image, Layer

if TYPE_CHECKING:
    from lamina.store.store import Store

__all__ = ["Image", "Layer", "open_image", "write_image"]


def open_image(spec: str, *, root: str | None = None, platform: str | None = None,
               store: Store | None = None) -> Image:
    """Open the image a spec names (see lamina.image.spec); nothing but metadata is read yet.

    ``root`` is the store to look plain names up in (None: the default store, as
    ``lamina.Client`` uses); ``store`` an already open one instead. ``platform``
    (``os/arch[/variant]``) picks from a multi-platform index; default: this machine's.
    """
    from lamina.image.spec import parse_spec

    parsed = parse_spec(spec)
    if parsed.transport == "docker-archive":
        from lamina.image.docker_archive import open_docker_archive

        return open_docker_archive(parsed.location, parsed.ref, spec)
    if parsed.transport in ("oci-archive", "oci"):
        from lamina.image.oci_layout import open_oci_archive, open_oci_layout

        opener = open_oci_archive if parsed.transport == "oci-archive" else open_oci_layout
        return opener(parsed.location, parsed.ref, spec, platform=platform)
    if parsed.transport == "docker":
        return _open_registry(parsed.location, spec, platform)
    local = _open_stored(parsed.location, spec, root, store, required=parsed.transport == "store")
    if local is not None:
        return local
    return _open_registry(parsed.location, spec, platform)


def write_image(image: Image, spec: str, **options) -> str:
    """Write ``image`` to the sink a spec names; returns the manifest digest written.

    See lamina.image.sinks for the sinks and their options.
    """
    from lamina.image.sinks import write_image as write

    return write(image, spec, **options)


def _open_stored(name: str, spec: str, root: str | None, store: Store | None, *, required: bool) -> Image | None:
    """The stored image ``name``, or None when the store has none (and ``required`` is false)."""
    from lamina.errors import ImageNotFoundError, InvalidReferenceError
    from lamina.image.store_source import open_store_image
    from lamina.store.store import Store

    own = store is None
    if own:
        from pathlib import Path

        from lamina.store.location import default_root

        location = Path(root) if root is not None else default_root()
        if not (location / "metadata.db").exists():
            if required:
                raise ImageNotFoundError(f"No such image: {name} (no store at {location})")
            return None
        store = Store(location)
    try:
        return open_store_image(store, name, spec=spec, own_store=own)
    except (ImageNotFoundError, InvalidReferenceError):
        if own:
            store.close()
        if required:
            raise
        return None
    except BaseException:
        if own:
            store.close()
        raise


def _open_registry(reference: str, spec: str, platform: str | None) -> Image:
    from lamina.image.registry_source import open_registry_image

    return open_registry_image(reference, spec, platform=platform)
