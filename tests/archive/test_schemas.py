"""Every OCI JSON document lamina writes validates against the image-spec's own JSON schemas."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from tests.conftest import SHARED, Lamina

SCHEMAS = SHARED / "conformance" / "image-spec" / "schema"


BASE = "file:///oci-schema/"


def _strip_ids(node):
    """The schemas nest ``id``s that move the base URI; refs are all file-relative, so drop them."""
    if isinstance(node, dict):
        return {k: _strip_ids(v) for k, v in node.items() if k != "id"}
    if isinstance(node, list):
        return [_strip_ids(v) for v in node]
    return node


def _validator(name: str):
    try:
        import jsonschema
    except ImportError:
        pytest.fail("jsonschema is missing: pip install -e '.[dev]' (make test does)")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    if not SCHEMAS.is_dir():
        pytest.fail(f"the image-spec schemas are missing: expected them in {SCHEMAS}")
    documents = {path.name: _strip_ids(json.loads(path.read_text())) for path in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources(
        (BASE + file, Resource.from_contents(doc, default_specification=DRAFT4)) for file, doc in documents.items()
    )
    schema = {**documents[name], "id": BASE + name}
    return jsonschema.Draft4Validator(schema, registry=registry)


def _blobs(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_saved_index_manifest_config_and_layout_are_valid(lamina: Lamina, imported_busybox, tmp_path):
    lamina.run("tag", "busybox", "second:tag")
    archive = tmp_path / "out.tar"
    lamina.run("save", "-o", str(archive), "busybox", "second:tag")
    files = _blobs(archive)
    _validator("image-layout-schema.json").validate(json.loads(files["oci-layout"]))
    index = json.loads(files["index.json"])
    _validator("image-index-schema.json").validate(index)
    manifest_validator = _validator("image-manifest-schema.json")
    config_validator = _validator("config-schema.json")
    for descriptor in index["manifests"]:
        manifest = json.loads(files["blobs/" + descriptor["digest"].replace(":", "/")])
        manifest_validator.validate(manifest)
        config_validator.validate(json.loads(files["blobs/" + manifest["config"]["digest"].replace(":", "/")]))


def test_import_writes_a_valid_config(lamina: Lamina, imported_busybox):
    config = (lamina.root / "blobs" / "sha256" / imported_busybox.split(":")[1]).read_bytes()
    _validator("config-schema.json").validate(json.loads(config))


def test_a_broken_manifest_is_caught_by_the_same_check():
    with pytest.raises(Exception, match="required"):
        _validator("image-manifest-schema.json").validate({"schemaVersion": 2})
