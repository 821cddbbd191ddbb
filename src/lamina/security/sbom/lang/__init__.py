"""Catalogers of language-ecosystem packages: what an image's applications bundle.

One module per ecosystem (python, node, gobinary, java, rust, ruby, php), each a pure parser
over one file's bytes plus a small Cataloger that picks its files from a FileView. The rules
(which files, which fields, how a purl is spelled) are Trivy's for image scans, so that
lamina's inventory and Trivy's agree; docs/security.md lists where they deliberately differ.
"""

from __future__ import annotations

#: The language catalogers as ``module:Class`` names, imported only when an SBOM is made.
LANG_CATALOGERS = (
    "lamina.security.sbom.lang.python:PythonCataloger",
    "lamina.security.sbom.lang.node:NodeCataloger",
    "lamina.security.sbom.lang.gobinary:GoBinaryCataloger",
    "lamina.security.sbom.lang.java:JavaCataloger",
    "lamina.security.sbom.lang.rust:RustBinaryCataloger",
    "lamina.security.sbom.lang.ruby:GemspecCataloger",
    "lamina.security.sbom.lang.php:ComposerCataloger",
)


def lang_catalogers() -> list:
    """One instance of each language cataloger (imports their modules now)."""
    from importlib import import_module

    catalogers = []
    for spec in LANG_CATALOGERS:
        module, _, attribute = spec.partition(":")
        catalogers.append(getattr(import_module(module), attribute)())
    return catalogers
