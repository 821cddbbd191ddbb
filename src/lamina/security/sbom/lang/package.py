"""Package records of language ecosystems, with purls spelled the way Trivy spells them.

Why our own purl writer: Trivy's purls are the ones vulnerability reports and SBOM diffs are
compared with, and its rules (lower-cased npm and Go names, PEP 503-ish PyPI names, Maven's
``group:artifact`` split) are a few lines. The escaping is packageurl-go v0.1.6's (Trivy 0.76's):
a path segment keeps ``A-Za-z0-9-._~`` and ``!$&'()*,;=:``; everything else, ``+`` and ``@``
included, is percent-encoded.
"""

from __future__ import annotations

from lamina.security.inventory import Package
from lamina.security.sbom.purl import purl

#: Trivy's result Type -> (OSV ecosystem, purl type)
KINDS: dict[str, tuple[str, str]] = {
    "python-pkg": ("PyPI", "pypi"),
    "node-pkg": ("npm", "npm"),
    "gobinary": ("Go", "golang"),
    "jar": ("Maven", "maven"),
    "rustbinary": ("crates.io", "cargo"),
    "cargo": ("crates.io", "cargo"),
    "gemspec": ("RubyGems", "gem"),
    "composer-vendor": ("Packagist", "composer"),
}



def make_package(kind: str, name: str, version: str, *, path: str, layer_diff_id: str = "",
                 licenses: tuple[str, ...] = ()) -> Package:
    """A Package of a language ecosystem with its ecosystem and purl filled in."""
    ecosystem, _ = KINDS[kind]
    return Package(name=name, version=version, kind=kind, ecosystem=ecosystem, purl=purl_of(kind, name, version),
                   path=path, layer_diff_id=layer_diff_id, licenses=licenses)


def purl_of(kind: str, name: str, version: str) -> str:
    """The purl Trivy writes for a package of result Type ``kind`` ("" where Trivy writes none)."""
    _, purl_type = KINDS[kind]
    if purl_type == "maven":
        name = name.replace(":", "/")
    elif purl_type == "pypi":
        name = name.replace("_", "-").lower()
    elif purl_type == "golang":
        if name.startswith(("./", "../")):
            return ""  # a local path names no software package
        name = name.lower()
    elif purl_type == "npm":
        name = name.lower()
    namespace, _, base = name.rpartition("/") if purl_type in ("maven", "golang", "npm", "composer") else ("", "", name)
    return purl(purl_type, namespace, base, version)
