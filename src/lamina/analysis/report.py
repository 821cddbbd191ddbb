"""An image's analysis (layers, efficiency, waste) and its two outputs: dive's JSON and plain text.

The JSON has dive 0.13's shape (``layer[]`` with ``fileList``, ``image`` with ``sizeBytes``,
``inefficientBytes``, ``efficiencyScore``, ``fileReference[]``) and Go's encoding of it, so tools
that read dive's export read ours.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lamina.analysis.efficiency import LayerChanges, PathRecord, measure
from lamina.analysis.tree import FileInfo, FileTree, read_layer_tree
from lamina.image.base import Image

__all__ = ["LayerReport", "AnalysisReport", "analyze_image", "dive_json", "text_report", "human_bytes",
           "go_float"]


@dataclass(slots=True)
class LayerReport:
    """One layer as dive lists it: its command (from the config's history), size and changes."""

    index: int
    diff_id: str
    command: str
    #: whether a history entry describes the layer (dive leaves digestId empty when none does)
    has_history: bool
    size_bytes: int  # the sum of the tar headers' sizes, as dive sizes a layer
    changes: LayerChanges
    tree: FileTree = field(repr=False)


@dataclass(slots=True)
class AnalysisReport:
    """What ``lamina analyze`` reports; the numbers are dive's."""

    image: str
    layers: list[LayerReport]
    size_bytes: int
    user_size_bytes: int  # every layer but the first (the base image's)
    efficiency: float
    wasted_bytes: int
    user_wasted_percent: float  # wasted / user bytes, a ratio (NaN or inf when the user added nothing)
    inefficient_files: list[PathRecord]
    path_errors: list[str]


def analyze_image(image: Image) -> AnalysisReport:
    """Read every layer once (streamed; a layer named twice is read once) and measure it as dive does."""
    from lamina.oci.models import parse_config

    config = parse_config(image.config_bytes(), where=f"{image.name}: config")
    trees: list[FileTree] = []
    by_diff_id: dict[str, FileTree] = {}
    layers = image.layers()
    for layer in layers:
        tree = by_diff_id.get(layer.diff_id)
        if tree is None:
            with layer.open_uncompressed() as stream:
                tree = read_layer_tree(stream, f"{image.name}: layer {layer.diff_id}")
            by_diff_id[layer.diff_id] = tree
        trees.append(tree)
    measured = measure(trees)
    commands = _layer_commands(config.history or [], len(layers))
    described = sum(1 for entry in config.history or [] if not entry.empty_layer)
    reports = [LayerReport(index=index, diff_id=layer.diff_id, command=command, has_history=index < described,
                           size_bytes=tree.file_size, changes=changes, tree=tree)
               for index, (layer, tree, command, changes)
               in enumerate(zip(layers, trees, commands, measured.changes, strict=True))]
    size = sum(report.size_bytes for report in reports)
    user_size = size - (reports[0].size_bytes if reports else 0)
    return AnalysisReport(image=image.name, layers=reports, size_bytes=size, user_size_bytes=user_size,
                          efficiency=measured.score, wasted_bytes=measured.wasted_bytes,
                          user_wasted_percent=_ratio(measured.wasted_bytes, user_size),
                          inefficient_files=measured.inefficient, path_errors=measured.path_errors)


def _layer_commands(history: list, count: int) -> list[str]:
    """Each layer's created_by, pairing layers with the history entries that are not empty_layer
    (dive's pairing; "(missing)" past the end), the ``/bin/sh -c `` prefix dropped as dive does."""
    entries = [entry for entry in history if not getattr(entry, "empty_layer", False)]
    commands = []
    for index in range(count):
        created_by = (getattr(entries[index], "created_by", None) or "") if index < len(entries) else "(missing)"
        commands.append(created_by.removeprefix("/bin/sh -c "))
    return commands


def _ratio(wasted: int, user: int) -> float:
    """Go's float division: x/0 is +Inf, 0/0 is NaN (dive prints them so)."""
    if user:
        return wasted / user
    return math.nan if wasted == 0 else math.inf


# ---------------------------------------------------------------- dive's JSON

def dive_json(report: AnalysisReport) -> bytes:
    """dive's ``--json`` export, encoded as Go's json.MarshalIndent writes it."""
    document = {
        "layer": [{
            "index": layer.index,
            "id": layer.diff_id.removeprefix("sha256:"),
            "digestId": layer.diff_id if layer.has_history else "",
            "sizeBytes": layer.size_bytes,
            "command": layer.command,
            "fileList": [_file_info(node.info) for node in layer.tree.nodes()],
        } for layer in report.layers],
        "image": {
            "sizeBytes": report.size_bytes,
            "inefficientBytes": report.wasted_bytes,
            "efficiencyScore": _GoFloat(report.efficiency),
            "fileReference": [{"count": record.references, "sizeBytes": record.cumulative_size,
                               "file": record.path} for record in report.inefficient_files],
        },
    }
    return "".join(_encode(document, 0)).encode()


def _file_info(info: FileInfo) -> dict:
    return {"path": info.path, "typeFlag": info.type_flag, "linkName": info.linkname, "size": info.size,
            "fileMode": info.mode, "uid": info.uid, "gid": info.gid, "isDir": info.is_dir}


class _GoFloat(float):
    """A float written as Go's encoding/json writes it (1 rather than 1.0)."""


def _encode(value: object, depth: int) -> Iterator[str]:
    """Go's MarshalIndent(value, "", "  "): HTML characters escaped, empty containers as [] and {}."""
    indent = "\n" + "  " * (depth + 1)
    if isinstance(value, dict):
        if not value:
            yield "{}"
            return
        yield "{"
        for position, (key, item) in enumerate(value.items()):
            yield ("," if position else "") + indent + _go_string(key) + ": "
            yield from _encode(item, depth + 1)
        yield "\n" + "  " * depth + "}"
    elif isinstance(value, list):
        if not value:
            yield "[]"
            return
        yield "["
        for position, item in enumerate(value):
            yield ("," if position else "") + indent
            yield from _encode(item, depth + 1)
        yield "\n" + "  " * depth + "]"
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, float):
        yield _go_json_float(value)
    elif isinstance(value, int):
        yield str(value)
    else:
        yield _go_string(str(value))


def _go_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    for plain, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                           ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        encoded = encoded.replace(plain, escaped)
    return encoded


def _go_json_float(value: float) -> str:
    """encoding/json's float64: shortest digits, no exponent between 1e-6 and 1e21 ("e-7", not "e-07")."""
    if not math.isfinite(value):  # Go refuses these; dive's export would fail, lamina writes null
        return "null"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return re.sub(r"e([+-])0(\d)$", r"e\1\2", repr(value))
    return _plain_decimal(value)


def _plain_decimal(value: float) -> str:
    """The shortest round-trip digits of ``value`` written without an exponent ("1", "0.00001")."""
    from decimal import Decimal

    if value == 0:
        return "0"
    return format(Decimal(repr(value)).normalize(), "f")


def go_float(value: float) -> str:
    """fmt's %v of a float64 (what dive prints in CI messages): an exponent below 1e-4 or from 1e21."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    magnitude = abs(value)
    if magnitude == 0 or 1e-4 <= magnitude < 1e21:
        return _plain_decimal(value)
    return repr(value)


def go_percent(ratio: float) -> str:
    """fmt's %2.4f of ratio*100 (dive's efficiency and user-wasted lines)."""
    value = ratio * 100
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:2.4f}"


def human_bytes(count: int) -> str:
    """go-humanize's Bytes: SI units, one decimal below 10 ("1.0 MB", "45 kB", "8 B")."""
    if count < 10:
        return f"{count} B"
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    exponent = min(int(math.floor(math.log(count) / math.log(1000))), len(units) - 1)
    value = math.floor(count / 1000 ** exponent * 10 + 0.5) / 10
    return f"{value:.1f} {units[exponent]}" if value < 10 else f"{value:.0f} {units[exponent]}"


# ---------------------------------------------------------------- plain text

def text_report(report: AnalysisReport) -> str:
    """The layers, the image's numbers and the inefficient files, for a terminal or a log."""
    lines = [f"Image: {report.image}", "", "Layers:",
             f"{'Index':>5}  {'Size':>9}  {'Added':>6}  {'Mod':>6}  {'Removed':>7}  Command"]
    for layer in report.layers:
        command = layer.command.replace("\n", "\u21b5")
        lines.append(f"{layer.index:>5}  {human_bytes(layer.size_bytes):>9}  {layer.changes.added:>6}  "
                     f"{layer.changes.modified:>6}  {layer.changes.removed:>7}  {command}")
    lines += ["", f"  efficiency: {go_percent(report.efficiency)} %",
              f"  wastedBytes: {report.wasted_bytes} bytes ({human_bytes(report.wasted_bytes)})",
              f"  userWastedPercent: {go_percent(report.user_wasted_percent)} %", ""]
    lines.append(inefficient_table(report))
    return "\n".join(lines)


def inefficient_table(report: AnalysisReport, *, empty: bool = False) -> str:
    """dive's "Inefficient Files:" table (``empty``: the table as "None")."""
    lines = ["Inefficient Files:", f"{'Count':>5}  {'Wasted Space':>12}  File Path"]
    records = [] if empty else report.inefficient_files
    if not records:
        lines.append("None")
    for record in records:
        lines.append(f"{record.references:>5}  {human_bytes(record.cumulative_size):>12}  {record.path}")
    return "\n".join(lines)
