"""Go binaries: the module list the Go toolchain embeds in every executable it links.

The blob starts with ``\\xff Go buildinf:`` (16-byte aligned, in ``.go.buildinfo`` or the first
writable data segment). Go < 1.18 stores two pointers to Go strings (version, modinfo); Go >= 1.18
stores both strings inline, varint-prefixed. The modinfo text is ``runtime/debug``'s
``path/mod/dep/=>/build`` lines. What is reported is Trivy's choice: ``stdlib`` at the Go version,
every dep (its replacement when ``=>`` follows), the main module, ``(devel)`` versions as empty,
and a main module without a release version gets the one ``-ldflags -X …version=`` set (from the
build settings, else from the symbol table of an unstripped binary).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import BinaryIO

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.lang.elf import ElfError, ElfFile, ExecutableFiles, file_contains, is_elf
from lamina.security.sbom.lang.package import make_package

KIND = "gobinary"
MAGIC = b"\xff Go buildinf:"
#: Go itself reads 64 KiB from the data start to find the blob.
SEARCH_WINDOW = 64 * 1024
#: A modinfo string longer than this is no toolchain's: refuse it rather than read it.
MAX_STRING = 16 << 20
PSEUDO_VERSION = re.compile(r"^v\d+\.\d+\.\d+-(?:\d{14}-|.*\.0\.\d{14}-|.*\.\d{14}-)[0-9a-f]{12}(\+.*)?$")
SEMVER = re.compile(r"^v(0|[1-9]\d*)(\.(0|[1-9]\d*)(\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)?)?$")
DEFAULT_VERSION_PREFIXES = {"main", "common", "version", "cmd"}


class GoBuildInfoError(ValueError):
    """A Go build-info blob that is cut short or points outside the file."""


@dataclass(slots=True)
class Module:
    path: str
    version: str
    replace: Module | None = None


@dataclass(slots=True)
class BuildInfo:
    go_version: str
    main: Module | None = None
    deps: list[Module] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    symbol_version: str = ""  # a -X version found in the symbol table (read only when needed)


def read_build_info(handle: BinaryIO, size: int) -> BuildInfo | None:
    """The build info of an ELF Go binary; None for files that are not ELF or not Go."""
    handle.seek(0)
    head = handle.read(64)
    if not is_elf(head):
        return None
    if len(head) < 52:
        raise ElfError("truncated ELF header")
    if not file_contains(handle, MAGIC):
        return None  # no build info anywhere in it: not a Go binary (or what is left of one)
    elf = ElfFile(handle, size)
    section = elf.section(".go.buildinfo")
    start = section.address if section is not None else elf.first_writable_data_address()
    if start is None:
        return None
    data = elf.read_address(start, SEARCH_WINDOW)
    offset = _find_blob(data)
    if offset is None:
        return None
    blob = data[offset:]
    pointer_size, flags = blob[14], blob[15]
    if flags & 2:
        version, rest = _varint_string(blob[32:])
        modinfo, _ = _varint_string(rest)
    else:
        if pointer_size not in (4, 8):
            raise GoBuildInfoError(f"pointer size {pointer_size} in the build info")
        order = "big" if flags & 1 else "little"
        version = _pointed_string(elf, blob, 16, pointer_size, order)
        modinfo = _pointed_string(elf, blob, 16 + pointer_size, pointer_size, order)
    if not version:
        return None
    if len(modinfo) >= 33 and modinfo[-17] == "\n":
        modinfo = modinfo[16:-16]
    else:
        modinfo = ""
    info = parse_modinfo(version, modinfo)
    if info.main is not None and info.main.path:
        built = _check_version(info.main.version)
        if (not built or PSEUDO_VERSION.match(built)) and not version_from_ldflags(
                info.main.path, info.settings.get("-ldflags", "")):
            info.symbol_version = version_from_symbols(elf, info.main.path)
    return info


def parse_modinfo(go_version: str, modinfo: str) -> BuildInfo:
    """``runtime/debug.BuildInfo`` from the modinfo text (lines of tab-separated fields)."""
    info = BuildInfo(go_version=go_version)
    last: Module | None = None
    for line in modinfo.splitlines():
        word, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if word == "mod" and len(fields) >= 2:
            info.main = last = Module(fields[0], fields[1])
        elif word == "dep" and fields and fields[0]:
            last = Module(fields[0], fields[1] if len(fields) > 1 else "")
            info.deps.append(last)
        elif word == "=>" and last is not None and fields and fields[0]:
            last.replace = Module(fields[0], fields[1] if len(fields) > 1 else "")
            last = None
        elif word == "build" and rest:
            key, value = _setting(rest)
            info.settings[key] = value
    return info


def packages_of(info: BuildInfo) -> list[tuple[str, str]]:
    """(name, version) as Trivy reports a Go binary: stdlib, the deps, the main module."""
    found = [("stdlib", stdlib_version(info.go_version))]
    for dep in info.deps:
        module = dep.replace or dep
        found.append((module.path, _check_version(module.version)))
    if info.main is not None and info.main.path:
        found.append((info.main.path, main_version(info)))
    return found


def stdlib_version(go_version: str) -> str:
    """``go1.22.3 X:boringcrypto`` -> ``v1.22.3``, as Trivy names the standard library's version."""
    version = go_version.removeprefix("go").split(" ", 1)[0].split("-X:", 1)[0]
    return "v" + version


def main_version(info: BuildInfo) -> str:
    """The main module's version: a release tag as built, else one set by ``-ldflags -X``."""
    assert info.main is not None
    version = _check_version(info.main.version)
    if version and not PSEUDO_VERSION.match(version):
        return version
    ldflags_version = version_from_ldflags(info.main.path, info.settings.get("-ldflags", ""))
    return ldflags_version or info.symbol_version or version


def version_from_ldflags(module: str, ldflags: str) -> str:
    """A version set by ``-X <pkg>.version=v1.2.3`` (or ``.ver``), the most specific key winning."""
    try:
        words = shlex.split(ldflags)
    except ValueError:
        return ""
    assignments: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in ("-X", "--X") and index + 1 < len(words):
            assignments.extend(words[index + 1].split(","))
            index += 2
            continue
        for prefix in ("-X=", "--X="):
            if word.startswith(prefix):
                assignments.extend(word[len(prefix):].split(","))
        index += 1
    pairs = []
    for assignment in assignments:
        key, equals, value = assignment.partition("=")
        if equals:
            pairs.append((key.lstrip("'"), value.rstrip("'")))
    return _choose_version(module, pairs)


def version_from_symbols(elf: ElfFile, module: str) -> str:
    """The same choice over the ``<pkg>.version.str`` strings an unstripped binary's symbols hold.

    Trivy's last resort: ``-trimpath`` keeps ``-ldflags`` out of the build info, but the linker
    still names the string data of each ``-X`` variable ``<variable>.str``.
    """
    pairs = []
    for symbol in elf.symbols():
        if symbol.size and symbol.name.endswith(".str") and _is_version_key(symbol.name[:-4]):
            value = elf.symbol_bytes(symbol, 256).rstrip(b"\0").decode("utf-8", "replace")
            if value:
                pairs.append((symbol.name[:-4], value))
    return _choose_version(module, pairs)


def _is_version_key(key: str) -> bool:
    return key.lower().endswith((".version", ".ver"))


def _choose_version(module: str, pairs: list[tuple[str, str]]) -> str:
    """Trivy's ranking: a ``MODULE/cmd/…`` key, then main/common/version/cmd packages, then any;
    two candidates of the best rank cancel out."""
    ranked: list[list[str]] = [[], [], []]
    for key, value in pairs:
        if not _is_version_key(key):
            continue
        if not (SEMVER.match(value) or SEMVER.match("v" + value)):
            continue
        prefix = key.rsplit("/", 1)[-1].split(".", 1)[0].lower()
        if key.startswith(module + "/cmd/"):
            ranked[0].append(value)
        elif prefix in DEFAULT_VERSION_PREFIXES:
            ranked[1].append(value)
        else:
            ranked[2].append(value)
    for versions in ranked:
        if versions:
            return versions[0] if len(versions) == 1 else ""
    return ""


class GoBinaryCataloger(ExecutableFiles):
    """Modules compiled into Go executables."""

    name = "gobinary"

    def catalog(self, files, os: OSInfo | None = None) -> list[Package]:
        packages: list[Package] = []
        for path in self.executables(files):
            try:
                with files.open(path) as handle:
                    info = read_build_info(handle, files.size(path))
            except (ElfError, GoBuildInfoError) as error:
                files.warn(f"{path}: unreadable Go build info: {error}")
                continue
            except (OSError, ValueError):
                continue
            if info is None:
                continue
            layer = files.layer_of(path)
            packages.extend(make_package(KIND, name, version, path=path, layer_diff_id=layer)
                            for name, version in packages_of(info))
        return packages


def _find_blob(data: bytes) -> int | None:
    start = 0
    while True:
        index = data.find(MAGIC, start)
        if index < 0 or len(data) - index < 32:
            return None
        if index % 16 == 0:
            return index
        start = index + 1


def _varint_string(data: bytes) -> tuple[str, bytes]:
    value, shift, index = 0, 0, 0
    while index < len(data) and index < 10:
        byte = data[index]
        value |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            break
        shift += 7
    else:
        return "", b""
    if value >= len(data) - index:
        return "", b""
    return data[index:index + value].decode("utf-8", "replace"), data[index + value:]


def _pointed_string(elf: ElfFile, blob: bytes, at: int, pointer_size: int, order: str) -> str:
    address = int.from_bytes(blob[at:at + pointer_size], order)
    header = elf.read_address(address, 2 * pointer_size)
    if len(header) < 2 * pointer_size:
        return ""
    data_address = int.from_bytes(header[:pointer_size], order)
    length = int.from_bytes(header[pointer_size:], order)
    if length > MAX_STRING:
        raise GoBuildInfoError(f"a build-info string claims {length} bytes")
    data = elf.read_address(data_address, length)
    return data.decode("utf-8", "replace") if len(data) == length else ""


def _check_version(version: str) -> str:
    return "" if version == "(devel)" else version


def _setting(text: str) -> tuple[str, str]:
    """``key=value`` of a ``build`` line; either side may be a Go-quoted string."""
    if text.startswith('"'):
        key, rest = _unquote_prefix(text)
        value = rest[1:] if rest.startswith("=") else ""
    else:
        key, _, value = text.partition("=")
    if value.startswith('"'):
        value, _ = _unquote_prefix(value)
    return key, value


def _unquote_prefix(text: str) -> tuple[str, str]:
    """A leading Go double-quoted string, unescaped, and what follows it."""
    out: list[str] = []
    index = 1
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(out), text[index + 1:]
        if char == "\\" and index + 1 < len(text):
            code = text[index + 1]
            if code in escapes:
                out.append(escapes[code])
                index += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(code)
            if width:
                try:
                    out.append(chr(int(text[index + 2:index + 2 + width], 16)))
                except ValueError:
                    out.append(code)
                index += 2 + (width or 0)
                continue
        out.append(char)
        index += 1
    return "".join(out), ""
