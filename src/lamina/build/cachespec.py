"""``--cache-to`` / ``--cache-from`` values, in BuildKit's ``key=value,…`` form.

Why a module of its own: the CLI, the API and the executor all read these specs, and a bad one
must be refused the same way everywhere (one line naming the spec) before a build starts.
"""

from __future__ import annotations

import msgspec

from lamina.errors import UsageError

#: where a cache can live: a registry artifact, an OCI layout directory, the image itself
EXPORT_TYPES = ("registry", "local", "inline")
IMPORT_TYPES = ("registry", "local", "image")
MODES = ("min", "max")
#: layer compressions a cache can carry (eStargz would change the diffIDs the keys name)
CACHE_COMPRESSIONS = ("gzip", "zstd", "none")


class CacheSpec(msgspec.Struct, frozen=True):
    """One cache location. ``ref``: a registry reference (type=registry); ``path``: a directory
    (type=local: ``dest`` when exporting, ``src`` when importing)."""

    type: str
    ref: str = ""
    path: str = ""
    mode: str = "min"
    compression: str = "gzip"

    @property
    def where(self) -> str:
        return self.ref or self.path or self.type


def fields(spec: str) -> dict[str, str]:
    """``type=registry,ref=x`` as a dict (a bare word, as docker's ``--cache-from IMAGE``, is ``ref``)."""
    if "=" not in spec:
        return {"type": "image", "ref": spec}
    result: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise UsageError(f"cache spec {spec!r}: {part!r} is not key=value")
        result[key.strip().lower()] = value.strip()
    return result


def parse_export(spec: str) -> CacheSpec:
    """A ``--cache-to`` value; refuses what lamina cannot write rather than ignoring it."""
    given = fields(spec)
    kind = given.get("type", "inline" if "ref" not in given and "dest" not in given else "registry")
    if kind not in EXPORT_TYPES:
        raise UsageError(f"--cache-to {spec}: unknown type {kind!r} (use registry, local or inline)")
    mode = given.get("mode", "min")
    if mode not in MODES:
        raise UsageError(f"--cache-to {spec}: mode must be min or max")
    compression = given.get("compression", "gzip")
    if compression not in CACHE_COMPRESSIONS:
        raise UsageError(f"--cache-to {spec}: compression must be one of {', '.join(CACHE_COMPRESSIONS)}")
    if kind == "registry" and not given.get("ref"):
        raise UsageError(f"--cache-to {spec}: type=registry needs ref=NAME")
    if kind == "local" and not given.get("dest"):
        raise UsageError(f"--cache-to {spec}: type=local needs dest=DIR")
    return CacheSpec(kind, ref=given.get("ref", "") if kind == "registry" else "",
                     path=given.get("dest", "") if kind == "local" else "", mode=mode, compression=compression)


def parse_import(spec: str) -> CacheSpec:
    """A ``--cache-from`` value: an image name, ``type=registry,ref=…`` or ``type=local,src=DIR``."""
    given = fields(spec)
    kind = given.get("type", "registry")
    if kind not in IMPORT_TYPES:
        raise UsageError(f"--cache-from {spec}: unknown type {kind!r} (use registry, local or an image name)")
    if kind in ("registry", "image") and not given.get("ref"):
        raise UsageError(f"--cache-from {spec}: use an image name or type=registry,ref=IMAGE")
    if kind == "local" and not given.get("src"):
        raise UsageError(f"--cache-from {spec}: type=local needs src=DIR")
    return CacheSpec(kind, ref=given.get("ref", ""), path=given.get("src", "") if kind == "local" else "")
