"""The SBOM documents: CycloneDX 1.5 and SPDX 2.3 that the reference validators accept, the table, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from lamina.security.inventory import Inventory
from tests.security.conftest import MemoryImage, layer_tar
from tests.security.test_sbom_oracles import ALPINE_314, OS_IMAGES


@pytest.fixture(scope="module")
def alpine_archive(tmp_path_factory) -> Path:
    return MemoryImage([layer_tar(ALPINE_314)]).docker_archive(tmp_path_factory.mktemp("fmt") / "alpine.tar")


@pytest.fixture(scope="module")
def mariner_archive(tmp_path_factory) -> Path:
    image = MemoryImage([layer_tar(OS_IMAGES["mariner-rpm-sqlite"])])
    return image.docker_archive(tmp_path_factory.mktemp("fmt") / "mariner.tar")


def test_cyclonedx_is_valid_1_5(lamina, alpine_archive, mariner_archive):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    validator = JsonStrictValidator(SchemaVersion.V1_5)
    for archive in (alpine_archive, mariner_archive):
        text = lamina.out("sbom", f"docker-archive:{archive}", "--format", "cyclonedx-json")
        assert validator.validate_str(text) is None
        document = json.loads(text)
        assert document["specVersion"] == "1.5"
        kinds = [c["type"] for c in document["components"]]
        assert kinds.count("operating-system") == 1 and kinds.count("library") > 0


def test_spdx_is_valid_2_3(lamina, alpine_archive, tmp_path):
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    out = tmp_path / "alpine.spdx.json"
    lamina.out("sbom", f"docker-archive:{alpine_archive}", "--format", "spdx-json", "-o", str(out))
    document = parse_file(str(out))
    assert validate_full_spdx_document(document) == []
    purls = {ref.locator for package in document.packages for ref in package.external_references}
    assert "pkg:apk/alpine/musl@1.2.2-r3?arch=armv7&distro=3.14.0" in purls
    assert len(purls) == 26


def test_json_is_the_inventory(lamina, mariner_archive):
    inventory = msgspec.json.decode(lamina.out("sbom", f"docker-archive:{mariner_archive}", "-f", "json"),
                                    type=Inventory)
    assert inventory.os is not None and (inventory.os.family, inventory.os.name) == ("cbl-mariner", "2.0")
    assert len(inventory.packages) == 129
    assert all(p.layer_diff_id == inventory.diff_ids[0] for p in inventory.packages)
    bash = next(p for p in inventory.packages if p.name == "bash")
    assert (bash.source_name, bash.kind) == ("bash", "cbl-mariner") and bash.source_version.endswith(".cm2")
    assert bash.release.endswith(".cm2") and bash.full_version == f"{bash.version}-{bash.release}"


def test_table_lists_every_package_once(lamina, alpine_archive):
    lines = lamina.out("sbom", f"docker-archive:{alpine_archive}").splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "TYPE"]
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 26 and ["musl", "1.2.2-r3", "alpine"] in rows


def test_an_unknown_format_is_a_one_line_error(lamina, alpine_archive):
    assert "cyclonedx-json" in lamina.fails("sbom", f"docker-archive:{alpine_archive}", "--format", "xml")


def test_the_python_api_returns_the_document(alpine_archive):
    from lamina.security.sbom import sbom

    document = json.loads(sbom(f"docker-archive:{alpine_archive}", format="cyclonedx-json"))
    assert len([c for c in document["components"] if c.get("purl")]) == 26
