"""``analyze --html``: one self-contained page (no script, no network) that shows where the bytes are.

A treemap of the final filesystem (an area per file, proportional to its size) coloured by the
layer that last wrote the file, the layer list with the same colours, sizes and commands, and
the wasted files. The treemap is laid out here (squarified, Bruls/Huizing/van Wijk) and drawn as
inline SVG, so the page is the same in every browser and needs nothing else.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from lamina.analysis.report import AnalysisReport, go_percent, human_bytes
from lamina.analysis.tree import IMPLIED

__all__ = ["html_report", "layer_colour", "final_files"]

#: the treemap's size in CSS pixels
WIDTH, HEIGHT = 1200, 640
#: files drawn at most; the smallest beyond that are merged into one "(smaller files)" area per layer
MAX_AREAS = 4000
#: distinct, saturated colours; layer N takes entry N modulo the length
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
            "#bcbd22", "#393b79", "#ad494a", "#637939", "#7b4173", "#3182bd", "#e6550d", "#31a354")


def layer_colour(index: int) -> str:
    """The colour of layer ``index`` in the treemap and the layer list."""
    return _PALETTE[index % len(_PALETTE)]


def final_files(report: AnalysisReport) -> dict[str, tuple[int, int]]:
    """path -> (size, index of the layer that last wrote it) for every file of the final
    filesystem, layers stacked as dive stacks them (whiteouts delete, opaque markers are ignored)."""
    from lamina.analysis.squash import _Filesystem, _Written

    filesystem = _Filesystem()
    sizes: dict[str, int] = {}
    for layer in report.layers:
        for node in layer.tree.nodes():
            path = node.path().lstrip("/")
            if node.is_whiteout:
                filesystem.delete(path)
            elif node.info is not IMPLIED and not node.info.is_dir:
                filesystem.put(path, _Written(layer.index, 0, False))
                sizes[path] = node.info.size
    return {path: (sizes[path], written.layer) for path, written in filesystem.files.items()}


@dataclass(frozen=True, slots=True)
class _Area:
    label: str
    size: int
    layer: int


def html_report(report: AnalysisReport) -> str:
    files = final_files(report)
    areas = _areas(files)
    rectangles = _squarify(areas, 0.0, 0.0, float(WIDTH), float(HEIGHT))
    title = html.escape(report.image)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>lamina analyze: {title}</title>",
        "<style>body{font-family:sans-serif;margin:16px;color:#222}"
        "table{border-collapse:collapse;margin:8px 0}td,th{padding:2px 10px;text-align:left;font-size:13px}"
        "th{border-bottom:1px solid #999}.n{text-align:right;font-variant-numeric:tabular-nums}"
        ".sw{display:inline-block;width:14px;height:14px;vertical-align:middle}"
        "svg rect{stroke:#fff;stroke-width:0.5}h1{font-size:20px}h2{font-size:16px;margin-top:18px}</style>",
        "</head><body>",
        f"<h1>{title}</h1>",
        f'<p id="summary">efficiency {go_percent(report.efficiency)} % · wasted {human_bytes(report.wasted_bytes)} '
        f"({report.wasted_bytes} bytes) · user wasted {go_percent(report.user_wasted_percent)} % · "
        f"{len(report.layers)} layers · {human_bytes(report.size_bytes)}</p>",
        "<h2>Layers</h2>", '<table id="layers"><tr><th></th><th>#</th><th class="n">size</th>'
        '<th class="n">added</th><th class="n">modified</th><th class="n">removed</th><th>command</th></tr>',
    ]
    for layer in report.layers:
        parts.append(f'<tr><td><span class="sw" style="background:{layer_colour(layer.index)}"></span></td>'
                     f"<td>{layer.index}</td><td class=\"n\">{human_bytes(layer.size_bytes)}</td>"
                     f'<td class="n">{layer.changes.added}</td><td class="n">{layer.changes.modified}</td>'
                     f'<td class="n">{layer.changes.removed}</td><td>{html.escape(layer.command[:200])}</td></tr>')
    parts.append("</table>")
    parts.append(f"<h2>Final filesystem ({len(files)} files), by the layer that last wrote each file</h2>")
    parts.append(f'<svg id="treemap" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
                 f'viewBox="0 0 {WIDTH} {HEIGHT}">')
    for area, (x, y, width, height) in rectangles:
        parts.append(f'<rect x="{x:.2f}" y="{y:.2f}" width="{width:.2f}" height="{height:.2f}" '
                     f'fill="{layer_colour(area.layer)}"><title>{html.escape(area.label)} · '
                     f"{human_bytes(area.size)} · layer {area.layer}</title></rect>")
    parts.append("</svg>")
    parts.append("<h2>Wasted files</h2>")
    if report.inefficient_files:
        parts.append('<table id="wasted"><tr><th class="n">count</th><th class="n">wasted</th><th>path</th></tr>')
        for record in report.inefficient_files[:500]:
            parts.append(f'<tr><td class="n">{record.references}</td><td class="n">'
                         f"{human_bytes(record.cumulative_size)}</td><td>{html.escape(record.path)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>None</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _areas(files: dict[str, tuple[int, int]]) -> list[_Area]:
    """The largest files as their own areas, the rest merged per layer; largest first."""
    ordered = sorted(((size, layer, path) for path, (size, layer) in files.items() if size > 0), reverse=True)
    areas = [_Area("/" + path, size, layer) for size, layer, path in ordered[:MAX_AREAS]]
    rest: dict[int, int] = {}
    for size, layer, _path in ordered[MAX_AREAS:]:
        rest[layer] = rest.get(layer, 0) + size
    areas += [_Area(f"(smaller files of layer {layer})", size, layer) for layer, size in rest.items()]
    return sorted(areas, key=lambda area: area.size, reverse=True)


def _squarify(areas: list[_Area], x: float, y: float, width: float,
              height: float) -> list[tuple[_Area, tuple[float, float, float, float]]]:
    """Squarified treemap of areas sorted largest first: each row is laid along the shorter side
    and grows while that does not make its worst aspect ratio worse."""
    total = sum(area.size for area in areas)
    if total <= 0 or width <= 0 or height <= 0:
        return []
    scale = width * height / total
    placed: list[tuple[_Area, tuple[float, float, float, float]]] = []
    start = 0
    while start < len(areas):
        side = min(width, height)
        end = start + 1
        row_sum = areas[start].size * scale
        largest = row_sum
        while end < len(areas):
            candidate = areas[end].size * scale
            if _worst(largest, row_sum, row_sum, side) < _worst(largest, candidate, row_sum + candidate, side):
                break
            row_sum += candidate
            end += 1
        thickness = row_sum / side
        offset = 0.0
        for area in areas[start:end]:
            length = area.size * scale / thickness
            if width >= height:  # a column at the left
                placed.append((area, (x, y + offset, thickness, length)))
            else:  # a row at the top
                placed.append((area, (x + offset, y, length, thickness)))
            offset += length
        if width >= height:
            x, width = x + thickness, max(width - thickness, 0.0)
        else:
            y, height = y + thickness, max(height - thickness, 0.0)
        start = end
    return placed


def _worst(largest: float, smallest: float, row_sum: float, side: float) -> float:
    """The worst aspect ratio of a row with these largest and smallest areas, laid along ``side``."""
    if smallest <= 0:
        return float("inf")
    return max(side * side * largest / (row_sum * row_sum), row_sum * row_sum / (side * side * smallest))
