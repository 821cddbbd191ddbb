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
    from lamina.analysis.report import AnalysisReport

__all__ = ["analyze"]


def analyze(spec: str, *, root: str | None = None, platform: str | None = None) -> AnalysisReport:
    """Measure an image as dive does: per-layer changes, efficiency, wasted bytes, inefficient files."""
    from lamina.analysis.report import analyze_image
    from lamina.image import open_image

    with open_image(spec, root=root, platform=platform) as image:
        return analyze_image(image)
