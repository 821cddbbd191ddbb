"""An Inventory as CycloneDX 1.5 JSON, SPDX 2.3 JSON, a table, or lamina's own JSON.

Documents are built as plain dicts and encoded with msgspec (fast, no model layer between):
the tests validate them with the reference libraries (cyclonedx-python-lib's JSON schema
validator, spdx-tools' parser and validator). Components carry Trivy's facts under ``lamina:``
property names (layer diffID, source package), so a reader can tell where each came from.
"""

from __future__ import annotations

import datetime
import re
import uuid

import msgspec

from lamina.security.inventory import Inventory, Package

__all__ = ["FORMATS", "render"]

FORMATS = ("cyclonedx-json", "spdx-json", "table", "json")


def render(inventory: Inventory, format: str) -> bytes:
    """The inventory in ``format`` (one of FORMATS), as the bytes to write."""
    if format == "cyclonedx-json":
        return msgspec.json.format(msgspec.json.encode(cyclonedx(inventory)), indent=2) + b"\n"
    if format == "spdx-json":
        return msgspec.json.format(msgspec.json.encode(spdx(inventory)), indent=2) + b"\n"
    if format == "json":
        return msgspec.json.format(msgspec.json.encode(inventory), indent=2) + b"\n"
    if format == "table":
        return table(inventory).encode()
    raise ValueError(f"unknown SBOM format {format!r} (one of {', '.join(FORMATS)})")


def display_version(package: Package) -> str:
    """The version as Trivy's reports print it: ``epoch:version-release``."""
    return package.full_version


def table(inventory: Inventory) -> str:
    """NAME, VERSION, TYPE columns, one package a line, as syft's table."""
    rows = [("NAME", "VERSION", "TYPE")]
    rows += sorted((p.name, display_version(p), p.kind) for p in inventory.packages)
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "".join(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}\n" for row in rows)


# -- CycloneDX ----------------------------------------------------------------------------------


def cyclonedx(inventory: Inventory) -> dict:
    """A CycloneDX 1.5 BOM: the image, its OS, and every package with its purl and layer."""
    from lamina import __version__

    image_ref = "image:" + inventory.image_id
    image = {"bom-ref": image_ref, "type": "container", "name": inventory.image_name or inventory.image_id,
             "properties": [{"name": "lamina:ImageID", "value": inventory.image_id}]
             + [{"name": "lamina:DiffID", "value": diff_id} for diff_id in inventory.diff_ids]}
    components: list[dict] = []
    dependencies: list[dict] = []
    os_ref = ""
    if inventory.os is not None:
        os_ref = f"os:{inventory.os.family}-{inventory.os.name}"
        components.append({"bom-ref": os_ref, "type": "operating-system", "name": inventory.os.family,
                           "version": inventory.os.name})
    refs = _unique_refs(inventory.packages, lambda p: p.purl or f"{p.kind}:{p.name}@{p.full_version}")
    os_children, image_children = [], []
    for package, ref in zip(inventory.packages, refs, strict=True):
        components.append(_cyclonedx_component(package, ref))
        (os_children if os_ref and package.purl.startswith(("pkg:deb/", "pkg:apk/", "pkg:rpm/")) else
         image_children).append(ref)
    if os_ref:
        dependencies.append({"ref": os_ref, "dependsOn": os_children})
        image_children.insert(0, os_ref)
    dependencies.insert(0, {"ref": image_ref, "dependsOn": image_children})
    dependencies += [{"ref": ref, "dependsOn": []} for ref in refs]
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1,
        "metadata": {"timestamp": _now(), "tools": {"components": [
            {"type": "application", "name": "lamina", "version": __version__}]}, "component": image},
        "components": components, "dependencies": dependencies,
    }


def _cyclonedx_component(package: Package, ref: str) -> dict:
    component: dict = {"bom-ref": ref, "type": "library", "name": package.name, "version": display_version(package)}
    if package.licenses:
        component["licenses"] = [{"license": {"name": text}} for text in package.licenses]
    if package.purl:
        component["purl"] = package.purl
    properties = [("lamina:PkgType", package.kind), ("lamina:LayerDiffID", package.layer_diff_id),
                  ("lamina:FilePath", package.path), ("lamina:SrcName", package.source_name),
                  ("lamina:SrcVersion", package.source_version),
                  ("lamina:SrcEpoch", str(package.source_epoch) if package.source_epoch else "")]
    component["properties"] = [{"name": name, "value": value} for name, value in properties if value]
    return component


# -- SPDX ---------------------------------------------------------------------------------------

_SPDX_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def spdx(inventory: Inventory) -> dict:
    """An SPDX 2.3 document: the image package CONTAINS the OS, which CONTAINS its packages."""
    from lamina import __version__

    image_id = "SPDXRef-Image"
    packages = [{"SPDXID": image_id, "name": inventory.image_name or inventory.image_id,
                 "versionInfo": inventory.image_id, "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
                 "primaryPackagePurpose": "CONTAINER", "licenseConcluded": "NOASSERTION",
                 "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION"}]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": image_id}]
    os_id = ""
    if inventory.os is not None:
        os_id = "SPDXRef-OperatingSystem"
        packages.append({"SPDXID": os_id, "name": inventory.os.family, "versionInfo": inventory.os.name,
                         "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
                         "primaryPackagePurpose": "OPERATING-SYSTEM", "licenseConcluded": "NOASSERTION",
                         "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION"})
        relationships.append({"spdxElementId": image_id, "relationshipType": "CONTAINS",
                              "relatedSpdxElement": os_id})
    for index, package in enumerate(inventory.packages, 1):
        spdx_id = f"SPDXRef-Package-{index}-{_SPDX_ID_UNSAFE.sub('-', package.name)}"
        entry = {"SPDXID": spdx_id, "name": package.name, "versionInfo": display_version(package),
                 "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "primaryPackagePurpose": "LIBRARY",
                 "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
                 "copyrightText": "NOASSERTION"}
        if package.purl:
            entry["externalRefs"] = [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                      "referenceLocator": package.purl}]
        if package.source_name:
            entry["sourceInfo"] = f"built package from: {package.source_name} {package.source_version}".rstrip()
        notes = [f"PkgType: {package.kind}"]
        if package.layer_diff_id:
            notes.append(f"LayerDiffID: {package.layer_diff_id}")
        if package.licenses:
            notes.append("Licenses: " + "; ".join(package.licenses))
        entry["attributionTexts"] = notes
        packages.append(entry)
        parent = os_id if os_id and package.purl.startswith(("pkg:deb/", "pkg:apk/", "pkg:rpm/")) else image_id
        relationships.append({"spdxElementId": parent, "relationshipType": "CONTAINS", "relatedSpdxElement": spdx_id})
    return {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": inventory.image_name or inventory.image_id,
        "documentNamespace": f"https://lamina.invalid/spdxdocs/{uuid.uuid4()}",
        "creationInfo": {"created": _now(), "creators": [f"Tool: lamina-{__version__}"]},
        "packages": packages, "relationships": relationships,
    }


def _unique_refs(packages: list[Package], key) -> list[str]:
    """One bom-ref per package: its purl, suffixed when two packages share one (two db files)."""
    seen: dict[str, int] = {}
    refs = []
    for package in packages:
        ref = key(package)
        count = seen.get(ref, 0)
        seen[ref] = count + 1
        refs.append(ref if count == 0 else f"{ref}#{count}")
    return refs


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
