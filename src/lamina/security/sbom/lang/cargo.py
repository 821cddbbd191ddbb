"""Rust lockfiles: ``Cargo.lock``, which Trivy's image scan reads (unlike other lockfiles).

Every ``[[package]]`` of the lock is a ``cargo`` package — unless a ``Cargo.toml`` sits beside
it: then, as Trivy does, only what the manifest's dependencies (``[dependencies]``,
``[target.*.dependencies]``, ``[workspace.dependencies]``, and those of the workspace members)
reach through the lock's dependency lists is kept, plus the root and member crates themselves;
dev- and build-only crates drop out. A dependency's version requirement picks the first locked
crate of that name it matches, with Cargo's operators (``1.2`` means ``^1.2``).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import tomllib

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.lang.package import make_package

KIND = "cargo"
MAX_TOML = 16 << 20


class CargoError(ValueError):
    """A Cargo.lock or Cargo.toml that is not TOML of the expected shape."""


def is_cargo_file(path: str) -> bool:
    return posixpath.basename(path) in ("Cargo.lock", "Cargo.toml")


def parse_lock(text: bytes) -> list[tuple[str, str, list[str]]]:
    """(name, version, dependency entries) of every locked crate."""
    document = _toml(text)
    packages = document.get("package", [])
    if not isinstance(packages, list):
        raise CargoError("[[package]] is not a list")
    locked = []
    for entry in packages:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            version = entry.get("version") if isinstance(entry.get("version"), str) else ""
            dependencies = [d for d in entry.get("dependencies", []) if isinstance(d, str)]
            locked.append((entry["name"], version, dependencies))
    return locked


def production_crates(locked: list[tuple[str, str, list[str]]], root_id: str, workspace_ids: list[str],
                      direct: dict[str, str]) -> list[tuple[str, str]]:
    """The crates Trivy keeps when a Cargo.toml names the direct dependencies."""
    by_id = {f"{name}@{version}": (name, version, deps) for name, version, deps in locked}
    latest_by_name = {name: version for name, version, _ in locked}
    kept: dict[str, tuple[str, str, list[str]]] = {}
    for name, requirement in direct.items():
        for crate_name, version, deps in locked:
            if crate_name == name and matches(version, requirement):
                kept[f"{name}@{version}"] = (crate_name, version, deps)
                break
    pending = list(kept.values())
    while pending:
        _, _, deps = pending.pop()
        for entry in deps:
            fields = entry.split()
            if len(fields) == 1 and fields[0] in latest_by_name:
                dep_id = f"{fields[0]}@{latest_by_name[fields[0]]}"
            elif len(fields) in (2, 3):
                dep_id = f"{fields[0]}@{fields[1]}"
            else:
                continue
            if dep_id in by_id and dep_id not in kept:
                kept[dep_id] = by_id[dep_id]
                pending.append(by_id[dep_id])
    for crate_id in (root_id, *workspace_ids):
        if crate_id in by_id:
            kept[crate_id] = by_id[crate_id]
    return sorted((name, version) for name, version, _ in kept.values())


def read_manifest(text: bytes, workspace_version: str = "") -> tuple[str, dict[str, str], list[str], str]:
    """(crate ID, dependency requirements, workspace member globs, workspace version) of a Cargo.toml."""
    document = _toml(text)
    package = document.get("package") if isinstance(document.get("package"), dict) else {}
    workspace = document.get("workspace") if isinstance(document.get("workspace"), dict) else {}
    workspace_package = workspace.get("package") if isinstance(workspace.get("package"), dict) else {}
    if not workspace_version and isinstance(workspace_package.get("version"), str):
        workspace_version = workspace_package["version"]
    version_field = package.get("version")
    if isinstance(version_field, str):
        version = version_field
    elif version_field is None or (isinstance(version_field, dict) and version_field.get("workspace") is True):
        version = workspace_version
    else:
        version = ""
    name = package.get("name") if isinstance(package.get("name"), str) else ""
    dependencies: dict = {}
    for table in (document.get("dependencies"),
                  *(target.get("dependencies") for target in _dict(document.get("target")).values()
                    if isinstance(target, dict)),
                  workspace.get("dependencies")):
        dependencies.update(_dict(table))
    requirements = {}
    for dep_name, value in dependencies.items():
        if isinstance(value, str):
            requirements[dep_name] = value
        elif isinstance(value, dict) and isinstance(value.get("version"), str):
            requirements[dep_name] = value["version"]
    members = [m for m in workspace.get("members", []) if isinstance(m, str)]
    return (f"{name}@{version}" if name else ""), requirements, members, workspace_version


def matches(version: str, requirement: str) -> bool:
    """Whether a locked version satisfies a Cargo requirement (comma-separated comparators)."""
    parsed = _version(version)
    if parsed is None:
        return False
    for comparator in requirement.split(","):
        comparator = comparator.strip()
        if comparator and not _satisfies(parsed, comparator):
            return False
    return True


class CargoLockCataloger:
    """Crates of Cargo.lock files, pruned to production ones when a Cargo.toml says which."""

    name = "cargo"

    def wants(self, path: str, mode: int, size: int) -> bool:
        return is_cargo_file(path)

    def catalog(self, files, os: OSInfo | None = None) -> list[Package]:
        packages: list[Package] = []
        for path in files.paths():
            if posixpath.basename(path) != "Cargo.lock":
                continue
            try:
                locked = parse_lock(files.read(path, MAX_TOML))
            except (ValueError, OSError) as error:
                files.warn(f"{path}: not a Cargo.lock: {error}")
                continue
            crates = [(name, version) for name, version, _ in locked]
            manifest = posixpath.join(posixpath.dirname(path), "Cargo.toml")
            if files.exists(manifest):
                try:
                    crates = self._production(files, manifest, locked)
                except (ValueError, OSError) as error:
                    files.warn(f"{manifest}: unreadable, every locked crate kept: {error}")
            layer = files.layer_of(path)
            packages.extend(make_package(KIND, name, version, path=path, layer_diff_id=layer)
                            for name, version in crates)
        return packages

    def _production(self, files, manifest: str, locked) -> list[tuple[str, str]]:
        root_id, requirements, members, workspace_version = read_manifest(files.read(manifest, MAX_TOML))
        directory = posixpath.dirname(manifest)
        workspace_ids = []
        for member in members:
            pattern = posixpath.normpath(posixpath.join(directory, member, "Cargo.toml"))
            for candidate in files.paths():
                if _glob_match(candidate, pattern) and candidate != manifest:
                    member_id, member_requirements, _, _ = read_manifest(files.read(candidate, MAX_TOML),
                                                                         workspace_version)
                    workspace_ids.append(member_id)
                    requirements = {**member_requirements, **requirements}  # the root's win
        return production_crates(locked, root_id, workspace_ids, requirements)


def _toml(text: bytes) -> dict:
    try:
        return tomllib.loads(text.decode("utf-8", "replace"))
    except (tomllib.TOMLDecodeError, RecursionError) as error:
        raise CargoError(f"TOML decode error: {error}") from None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _glob_match(path: str, pattern: str) -> bool:
    """Go's path.Match per segment: ``*`` never crosses a ``/``."""
    path_parts, pattern_parts = path.split("/"), pattern.split("/")
    return len(path_parts) == len(pattern_parts) and all(
        fnmatch.fnmatchcase(part, glob) for part, glob in zip(path_parts, pattern_parts, strict=True))


_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_COMPARATOR = re.compile(r"^(\^|~|=|>=|<=|>|<)?\s*v?(\d+|\*|x|X)(?:\.(\d+|\*|x|X))?(?:\.(\d+|\*|x|X))?(?:-([0-9A-Za-z.-]+))?$")


def _version(text: str) -> tuple[int, int, int, str] | None:
    found = _VERSION.match(text.strip())
    if not found:
        return None
    major, minor, patch, pre = found.groups()
    return int(major), int(minor or 0), int(patch or 0), pre or ""


def _satisfies(version: tuple[int, int, int, str], comparator: str) -> bool:
    """One comparator, as Masterminds/semver (Trivy's) reads it with a default ``^``."""
    found = _COMPARATOR.match(comparator)
    if not found:
        return False
    operator, *parts, pre = found.groups()
    if version[3] and not pre:
        return False  # a pre-release satisfies only a requirement that names one
    given = [part for part in parts if part is not None]
    if any(part in "*xX" for part in given):  # 1.2.* / 1.x / *: the parts before the wildcard are fixed
        fixed = [int(part) for part in given[:next(i for i, p in enumerate(given) if p in "*xX")]]
        return list(version[:len(fixed)]) == fixed
    numbers = [int(part) for part in given] + [0] * (3 - len(given))
    low = (numbers[0], numbers[1], numbers[2], pre or "")
    operator = operator or "^"
    if operator == "=":
        return list(version[:len(given)]) == numbers[:len(given)] and (len(given) < 3 or version[3] == low[3])
    if operator == "^":
        if numbers[0] > 0 or len(given) == 1:
            high = (numbers[0] + 1, 0, 0, "")
        elif numbers[1] > 0 or len(given) == 2:
            high = (0, numbers[1] + 1, 0, "")
        else:
            high = (0, 0, numbers[2] + 1, "")
        return _cmp(version, low) >= 0 and _cmp(version, high) < 0
    if operator == "~":
        high = (numbers[0] + 1, 0, 0, "") if len(given) == 1 else (numbers[0], numbers[1] + 1, 0, "")
        return _cmp(version, low) >= 0 and _cmp(version, high) < 0
    order = _cmp(version, low)
    return {">": order > 0, ">=": order >= 0, "<": order < 0, "<=": order <= 0}[operator]


def _cmp(left: tuple[int, int, int, str], right: tuple[int, int, int, str]) -> int:
    if left[:3] != right[:3]:
        return -1 if left[:3] < right[:3] else 1
    if left[3] == right[3]:
        return 0
    if not left[3] or not right[3]:
        return 1 if not left[3] else -1
    return -1 if _pre_key(left[3]) < _pre_key(right[3]) else 1


def _pre_key(pre: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in pre.split(".")]
