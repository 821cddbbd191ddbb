"""SBOM: the package inventory of an image, from every layer, and its CycloneDX/SPDX forms.

``catalog_image`` walks an image's layers once (walk.FileView), detects the distribution
(osrelease) and runs the catalogers (catalogers.CATALOGERS) over the files they asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lamina.errors import LaminaError
from lamina.image.base import Image
from lamina.security.inventory import Inventory, Package
from lamina.security.sbom.catalogers import Cataloger, load_catalogers
from lamina.security.sbom.walk import FileView, build_view

__all__ = ["catalog_image", "sbom"]

_OS_CATALOGERS = frozenset(("dpkg", "apk", "rpm"))


def catalog_image(image: Image, catalogers: Sequence[Cataloger] | None = None, *,
                  on_warning: Callable[[str], None] | None = None) -> Inventory:
    """Every package the catalogers find in ``image``'s final filesystem, with its layer.

    For a store image the result and each layer's walk are cached in the store (sbom.cache):
    the next call for the same stack answers from there, with the same warnings."""
    from lamina.security.sbom import osrelease
    from lamina.security.sbom.cache import catalog_cache

    warn = on_warning or (lambda message: None)
    cache = catalog_cache(image, catalogers)
    warnings: list[str] = []
    if cache is not None:
        hit = cache.load_inventory(image)
        if hit is not None:
            inventory, warnings = hit
            for message in warnings:
                warn(message)
            return inventory
        report = warn

        def warn(message: str) -> None:  # kept with the inventory, to be given again on a hit
            warnings.append(message)
            report(message)

    chosen = list(catalogers) if catalogers is not None else load_catalogers()
    asks = [cataloger.wants for cataloger in chosen]
    os_files = osrelease.OS_FILES

    def wants(path: str, mode: int, size: int) -> bool:  # called for every regular file: kept lean
        if path in os_files:
            return True
        for ask in asks:
            if ask(path, mode, size):
                return True
        return False

    layers = image.layers()
    with build_view([(layer.diff_id, layer.open_uncompressed) for layer in layers], wants,
                    on_warning=warn, cache=cache.layers if cache is not None else None) as view:
        os_info = osrelease.detect_os(view)
        packages: list[Package] = []
        for cataloger in chosen:
            found = _run(cataloger, view, os_info, warn)
            if found and os_info is None and cataloger.name in _OS_CATALOGERS:
                warn(f"{cataloger.name}: {len(found)} packages but no OS release file: their purls name no distro")
            packages.extend(found)
    inventory = Inventory(image_name=image.name, image_id=image.config_digest(), os=os_info,
                          packages=packages, diff_ids=view.diff_ids)
    if cache is not None and layers:
        cache.save_inventory(image, inventory, warnings)
    return inventory


def sbom(spec: str, *, root: str | None = None, format: str = "cyclonedx-json", platform: str | None = None,
         on_warning: Callable[[str], None] | None = None) -> bytes:
    """The SBOM of the image ``spec`` names (store name, ``docker-archive:PATH``, ``oci:DIR``…)
    in ``format`` (``cyclonedx-json``, ``spdx-json``, ``table``, ``json``), as bytes."""
    from lamina.image import open_image
    from lamina.security.sbom.formats import FORMATS, render

    if format not in FORMATS:
        from lamina.errors import UsageError

        raise UsageError(f"unknown SBOM format {format!r} (one of {', '.join(FORMATS)})")
    image = open_image(spec, root=root, platform=platform)
    try:
        inventory = catalog_image(image, on_warning=on_warning)
    finally:
        image.close()
    return render(inventory, format)


def _run(cataloger: Cataloger, view: FileView, os_info, warn: Callable[[str], None]) -> list[Package]:
    """One cataloger's packages; a LaminaError (a corrupt database) becomes a warning."""
    try:
        return cataloger.catalog(view, os_info)
    except LaminaError as exc:
        warn(f"{cataloger.name}: {exc}")
        return []
