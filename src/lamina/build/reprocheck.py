"""``lamina build --reproducible-check``: where two builds of the same context part ways.

Two images with the same ID are the same. Otherwise the first difference is what a user needs
to make the build reproducible: a config field (``created`` says SOURCE_DATE_EPOCH is missing),
a history entry, or the first layer whose diffID differs, and in it the first tar member that
differs (name, type, mode, owner, mtime, size, link target or content).
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator, Mapping
from typing import Any

from lamina.oci import mediatypes as mt
from lamina.oci.models import decode_json
from lamina.store.store import Store

__all__ = ["first_difference"]

_MEMBER_FIELDS = ("type", "mode", "uid", "gid", "mtime", "size", "linkname", "content")


def first_difference(store: Store, first: str, second: str) -> str | None:
    """None when ``first`` and ``second`` are the same image, else one line naming the first difference."""
    if first == second:
        return None
    a = decode_json(store.config_bytes(first))
    b = decode_json(store.config_bytes(second))
    a_layers = list((a.get("rootfs") or {}).get("diff_ids") or [])
    b_layers = list((b.get("rootfs") or {}).get("diff_ids") or [])
    for index, (x, y) in enumerate(zip(a_layers, b_layers, strict=False)):
        if x != y:
            return f"layer {index + 1} ({_layer_step(a, index)}): {_layer_difference(store, x, y)}"
    if len(a_layers) != len(b_layers):
        return f"layer count: {len(a_layers)} vs {len(b_layers)}"
    history_a, history_b = list(a.get("history") or []), list(b.get("history") or [])
    for index, (x, y) in enumerate(zip(history_a, history_b, strict=False)):
        for key in sorted(set(x) | set(y)):
            if x.get(key) != y.get(key):
                return f"history[{index}].{key}: {x.get(key)!r} vs {y.get(key)!r}{_hint(key)}"
    found = _json_difference(a, b, "config")
    return found or "the config documents differ in key order or encoding"


def _hint(key: str) -> str:
    return " (set SOURCE_DATE_EPOCH)" if key == "created" else ""


def _json_difference(a: Any, b: Any, where: str) -> str | None:
    """The first path at which two JSON values differ (dict keys in sorted order)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{where}.{key}: only in the {'second' if key not in a else 'first'} build"
            found = _json_difference(a[key], b[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _json_difference(x, y, f"{where}[{index}]")
            if found:
                return found
        return None
    if a != b:
        return f"{where}: {a!r} vs {b!r}{_hint(where.rpartition('.')[2])}"
    return None


def _layer_step(config: Mapping[str, Any], index: int) -> str:
    """The ``created_by`` of the history entry that made the ``index``-th layer."""
    seen = -1
    for entry in config.get("history") or []:
        if entry.get("empty_layer"):
            continue
        seen += 1
        if seen == index:
            return str(entry.get("created_by") or "?")[:80]
    return "?"


def _layer_difference(store: Store, first: str, second: str) -> str:
    """The first member of two layer tars that differs, with the field and both values."""
    a_members, b_members = _members(store, first), _members(store, second)
    try:
        while True:
            x, y = next(a_members, None), next(b_members, None)
            if x is None and y is None:
                return f"{first} vs {second}: same members, different tar bytes (headers or padding)"
            if x is None or y is None or x[0] != y[0]:
                name_x = x[0] if x else "(end)"
                name_y = y[0] if y else "(end)"
                return f"member {name_x} vs {name_y}"
            for field, vx, vy in zip(_MEMBER_FIELDS, x[1], y[1], strict=True):
                if vx != vy:
                    return f"{x[0]}: {field} {vx} vs {vy}{' (set SOURCE_DATE_EPOCH)' if field == 'mtime' else ''}"
    finally:
        a_members.close()
        b_members.close()


def _members(store: Store, diff_id: str) -> Iterator[tuple[str, tuple]]:
    """``(name, (type, mode, uid, gid, mtime, size, linkname, content sha256))`` per member, in tar order."""
    from lamina.layer.compression import decompressing_reader

    record = store.layer_for(diff_id)
    if record is None:
        return
    with store.content.open(record.blob_digest) as blob:
        stream = decompressing_reader(blob, mt.layer_compression(record.media_type))
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                content = ""
                if member.isreg():
                    data = archive.extractfile(member)
                    digest = hashlib.sha256()
                    while data is not None and (chunk := data.read(1 << 20)):
                        digest.update(chunk)
                    content = digest.hexdigest()[:12]
                yield member.name, (member.type.decode(), oct(member.mode), member.uid, member.gid,
                                    int(member.mtime), member.size, member.linkname, content)
