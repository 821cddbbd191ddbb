"""Seeing and shrinking images: dive-grade layer analysis, image diff, squash.

    from lamina.analysis import analyze
    report = analyze("docker-archive:app.tar")
    print(report.efficiency, report.wasted_bytes, [f.path for f in report.inefficient_files])

Every function takes any image spec the Image seam opens (a stored name or ID,
``docker-archive:``, ``oci-archive:``, ``oci:``, a registry reference). Modules load on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lamina.analysis.diff import ImageDiff
    from lamina.analysis.report import AnalysisReport

__all__ = ["analyze", "diff", "squash"]


def analyze(spec: str, *, root: str | None = None, platform: str | None = None) -> AnalysisReport:
    """Measure an image as dive does: per-layer changes, efficiency, wasted bytes, inefficient files."""
    from lamina.analysis.report import analyze_image
    from lamina.image import open_image

    with open_image(spec, root=root, platform=platform) as image:
        return analyze_image(image)


def diff(spec_a: str, spec_b: str, *, root: str | None = None, platform: str | None = None) -> ImageDiff:
    """The files, config keys and history entries that differ between two images (B the newer)."""
    from lamina.analysis.diff import diff_images
    from lamina.image import open_image

    with open_image(spec_a, root=root, platform=platform) as image_a, \
            open_image(spec_b, root=root, platform=platform) as image_b:
        return diff_images(image_a, image_b)


def squash(spec: str, *, base: str | None = None, tag: str | None = None, root: str | None = None,
           platform: str | None = None) -> str:
    """Store ``spec`` with its layers above ``base``'s merged into one (all into one without a
    base), docker's ``--squash`` history kept, tagged ``tag``; returns the new image ID."""
    from contextlib import nullcontext

    from lamina.analysis.squash import squash_image
    from lamina.image import open_image
    from lamina.image.store_sink import write_to_store
    from lamina.oci.reference import parse_reference
    from lamina.store.store import Store

    refs = [parse_reference(tag)] if tag is not None else []
    store = Store(root)
    try:
        with open_image(spec, store=store, platform=platform) as image, \
                (open_image(base, store=store, platform=platform) if base else nullcontext()) as base_image, \
                squash_image(image, base_image) as squashed:
            return write_to_store(squashed.image, store, refs, what=f"squash of {spec}").image_id
    finally:
        store.close()
