"""Ruby gems: ``…/specifications/*.gemspec``, the specs RubyGems writes for installed gems.

Trivy reads these as text, never running Ruby: the ``Gem::Specification.new do |s|`` block
variable, then ``s.name = …`` / ``s.version = …`` / ``s.license(s) = …`` lines, quotes and a
``.freeze`` suffix trimmed. The same regular-expression reading is done here.
"""

from __future__ import annotations

import re

from lamina.security.inventory import OSInfo, Package
from lamina.security.sbom.lang.package import make_package

KIND = "gemspec"
SPEC_PATH = re.compile(r".*/specifications/.+\.gemspec")
SPEC_NEW = "Gem::Specification.new"
BLOCK_VARIABLE = re.compile(r"\|(.*)\|")
NAME = re.compile(r"\.name\s*=\s*(\S+)")
VERSION = re.compile(r"\.version\s*=\s*(\S+)")
LICENSE = re.compile(r"\.license\s*=\s*(\S+)")
LICENSES = re.compile(r"\.licenses\s*=\s*\[(.+)\]")
MAX_GEMSPEC = 4 << 20


class GemspecError(ValueError):
    """A gemspec whose name or version could not be read."""


def is_gemspec_path(path: str) -> bool:
    # Trivy's pattern wants a directory before "specifications/"; paths here have no leading "/".
    return SPEC_PATH.match("/" + path) is not None


def parse_gemspec(text: bytes) -> tuple[str, str, tuple[str, ...]]:
    """(name, version, licenses) of an installed gem's specification."""
    variable = name = version = license_text = ""
    for raw in text[:MAX_GEMSPEC].decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if SPEC_NEW in line:
            found = BLOCK_VARIABLE.search(line)
            variable = found.group(1) if found else ""
        if not variable:
            continue
        if line.startswith(variable + ".name"):
            name = _trim(_group(NAME, line))
        elif line.startswith(variable + ".version"):
            version = _trim(_group(VERSION, line))
        elif line.startswith(variable + ".licenses"):
            license_text = ", ".join(_trim(part) for part in _group(LICENSES, line).split(","))
        elif line.startswith(variable + ".license"):
            license_text = _trim(_group(LICENSE, line))
        if name and version and license_text:
            break
    if not name or not version:
        raise GemspecError("no name or version in the specification")
    licenses = tuple(part.strip() for part in license_text.split(",") if part.strip())
    return name, version, licenses


class GemspecCataloger:
    """Installed Ruby gems, one per specification file."""

    name = "ruby"

    def wants(self, path: str, mode: int, size: int) -> bool:
        return is_gemspec_path(path)

    def catalog(self, files, os: OSInfo | None = None) -> list[Package]:
        packages: list[Package] = []
        for path in files.paths():
            if not is_gemspec_path(path):
                continue
            try:
                name, version, licenses = parse_gemspec(files.read(path, MAX_GEMSPEC))
            except (ValueError, OSError) as error:
                files.warn(f"{path}: not a gem specification: {error}")
                continue
            packages.append(make_package(KIND, name, version, path=path, layer_diff_id=files.layer_of(path),
                                         licenses=licenses))
        return packages


def _group(pattern: re.Pattern[str], line: str) -> str:
    found = pattern.search(line)
    return found.group(1) if found else ""


def _trim(value: str) -> str:
    value = value.strip()
    value = value.removesuffix(".freeze")
    return value.strip("'\"")
