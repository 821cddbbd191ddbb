"""Catalogers of language-ecosystem packages: what an image's applications bundle.

One module per ecosystem (python, node, gobinary, java, rust, ruby, php), each a pure parser
over one file's bytes plus a small Cataloger that picks its files from a FileView; they are
listed in ``sbom/catalogers.py``'s CATALOGERS. The rules (which files, which fields, how a purl
is spelled) are Trivy's for image scans, so that lamina's inventory and Trivy's agree;
docs/security.md lists where they deliberately differ.
"""
