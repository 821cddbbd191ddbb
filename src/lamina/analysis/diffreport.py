"""An ImageDiff for people (a docker-diff-like table) and for programs (JSON)."""

from __future__ import annotations

import json

from lamina.analysis.diff import FileEntry, ImageDiff

__all__ = ["diff_table", "diff_json"]


def diff_table(result: ImageDiff) -> str:
    """``A``/``D``/``C`` lines (docker diff's letters) with what changed, then config and history."""
    lines = [f"--- {result.image_a}", f"+++ {result.image_b}",
             f"Files: {len(result.added)} added, {len(result.removed)} removed, {len(result.changed)} changed"
             f" ({result.shared_layers} leading layers shared)"]
    rows = [(path, "A", _describe(entry)) for path, entry in result.added]
    rows += [(path, "D", _describe(entry)) for path, entry in result.removed]
    rows += [(change.path, "C", ", ".join(f"{name} {_value(change.before, name)} -> {_value(change.after, name)}"
                                          for name in change.fields)) for change in result.changed]
    for path, letter, detail in sorted(rows):
        lines.append(f"{letter} /{path}" + (f"  ({detail})" if detail else ""))
    if result.config:
        lines.append("Config:")
        for key, before, after in result.config:
            lines.append(f"  {key}: {_json(before)} -> {_json(after)}")
    if result.history:
        lines.append("History:")
        for index, before, after in result.history:
            lines.append(f"  [{index}] - {before if before is not None else '(none)'}")
            lines.append(f"  [{index}] + {after if after is not None else '(none)'}")
    if result.identical:
        lines.append("The images are the same.")
    return "\n".join(lines) + "\n"


def diff_json(result: ImageDiff) -> bytes:
    document = {
        "image1": result.image_a,
        "image2": result.image_b,
        "sharedLayers": result.shared_layers,
        "files": {
            "added": [_entry_json(path, entry) for path, entry in result.added],
            "removed": [_entry_json(path, entry) for path, entry in result.removed],
            "changed": [{"path": "/" + change.path,
                         "fields": {name: [_value_json(change.before, name), _value_json(change.after, name)]
                                    for name in change.fields},
                         "before": _entry_json(change.path, change.before),
                         "after": _entry_json(change.path, change.after)} for change in result.changed],
        },
        "config": [{"key": key, "image1": before, "image2": after} for key, before, after in result.config],
        "history": [{"index": index, "image1": before, "image2": after} for index, before, after in result.history],
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def _entry_json(path: str, entry: FileEntry) -> dict:
    return {"path": "/" + path, "type": entry.kind, "size": entry.size, "mode": f"{entry.mode:04o}",
            "uid": entry.uid, "gid": entry.gid, "digest": entry.digest, "link": entry.link}


def _describe(entry: FileEntry) -> str:
    if entry.kind == "file":
        return f"file {entry.size} B, {entry.mode:04o}, {entry.uid}:{entry.gid}"
    if entry.kind in ("symlink", "hardlink"):
        return f"{entry.kind} -> {entry.link}"
    return f"{entry.kind}, {entry.mode:04o}, {entry.uid}:{entry.gid}"


def _value(entry: FileEntry, name: str) -> str:
    value = getattr(entry, name)
    if name == "mode":
        return f"{value:04o}"
    if name == "digest":
        return value[7:19] if value else "-"
    return str(value) if value != "" else "-"


def _value_json(entry: FileEntry, name: str) -> object:
    value = getattr(entry, name)
    return f"{value:04o}" if name == "mode" else value


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True) if value is not None else "(unset)"
