"""Cargo.lock in an image, compared with Trivy 0.76 (whose image scan reads it, type ``cargo``).

Three layouts: a lock alone (every crate), a lock beside a Cargo.toml with dev- and
build-dependencies (only what the manifest's dependencies reach, plus the crate itself), and a
workspace whose member manifests add dependencies.
"""

from __future__ import annotations

import pytest

from lamina.security.sbom import catalog_image
from lamina.security.sbom.lang.cargo import CargoLockCataloger, matches
from tests.security.conftest import MemoryImage
from tests.security.lang_fixtures import FILE, layer_tar, trivy_packages


def lock(*crates: tuple[str, str, list[str]]) -> bytes:
    text = "version = 3\n"
    for name, version, deps in crates:
        text += f'\n[[package]]\nname = "{name}"\nversion = "{version}"\n'
        if deps:
            text += "dependencies = [\n" + "".join(f' "{dep}",\n' for dep in deps) + "]\n"
    return text.encode()


CRATES = (
    ("app", "0.1.0", ["serde", "log 0.4.20", "tempfile", "cc"]),
    ("serde", "1.0.193", ["serde_derive"]),
    ("serde_derive", "1.0.193", []),
    ("log", "0.4.20", []),
    ("log", "0.3.9", ["log 0.4.20"]),
    ("tempfile", "3.8.1", ["fastrand"]),  # dev-dependency
    ("fastrand", "2.0.1", []),
    ("cc", "1.0.83", []),  # build-dependency
    ("member", "0.2.0", ["regex"]),
    ("regex", "1.10.2", []),
)

APP_TOML = b"""[package]
name = "app"
version = "0.1.0"

[dependencies]
serde = { version = "1.0", features = ["derive"] }
log = "0.4"

[dev-dependencies]
tempfile = "3"

[build-dependencies]
cc = "1.0"
"""

WORKSPACE_TOML = b"""[workspace]
members = ["crates/*"]

[workspace.package]
version = "0.2.0"
"""

MEMBER_TOML = b"""[package]
name = "member"
version.workspace = true

[dependencies]
regex = "1.10"
"""


def layout() -> list:
    return [
        ("alone/Cargo.lock", lock(*CRATES), FILE),
        ("app/Cargo.lock", lock(*CRATES), FILE),
        ("app/Cargo.toml", APP_TOML, FILE),
        ("ws/Cargo.lock", lock(*CRATES), FILE),
        ("ws/Cargo.toml", WORKSPACE_TOML, FILE),
        ("ws/crates/member/Cargo.toml", MEMBER_TOML, FILE),
        ("bad/Cargo.lock", b"[[package]\nname=", FILE),
    ]


@pytest.mark.slow
def test_cargo_lock_crates_are_trivys(tmp_path):
    image = MemoryImage([layer_tar(layout())], name="cargo:test")
    archive = image.docker_archive(tmp_path / "cargo.tar", tag="cargo:test")
    warnings: list[str] = []
    inventory = catalog_image(image, [CargoLockCataloger()], on_warning=warnings.append)
    ours = sorted((p.path.split("/")[0], p.name, p.version, p.purl) for p in inventory.packages)
    theirs = sorted((p["path"].split("/")[0] if p["path"] else "", p["name"], p["version"], p["purl"])
                    for p in trivy_packages(archive, tmp_path / "cache") if p["type"] == "cargo")
    # a virtual workspace (a Cargo.toml without [package]) is a nameless record in Trivy: not in lamina
    assert [row for row in theirs if not row[1]] == [("", "", "", "")]
    theirs = [row for row in theirs if row[1]]
    # Trivy's CycloneDX does not name the lockfile of each crate: compare the multiset without it
    assert sorted(row[1:] for row in ours) == sorted(row[1:] for row in theirs)
    by_dir = {directory: {(n, v) for d, n, v, _ in ours if d == directory} for directory in ("alone", "app", "ws")}
    assert len(by_dir["alone"]) == len(CRATES)
    assert by_dir["app"] == {("app", "0.1.0"), ("serde", "1.0.193"), ("serde_derive", "1.0.193"), ("log", "0.4.20")}
    assert by_dir["ws"] == {("member", "0.2.0"), ("regex", "1.10.2")}
    assert [w.split(":")[0] for w in warnings] == ["bad/Cargo.lock"]


def test_cargo_requirements_as_trivy_matches_them():
    assert matches("1.2.3", "1.2") and not matches("2.0.0", "1.2")
    assert matches("0.4.20", "0.4") and not matches("0.5.0", "0.4")
    assert matches("0.0.3", "0.0.3") and not matches("0.0.4", "0.0.3")
    assert matches("1.2.9", "~1.2") and not matches("1.3.0", "~1.2")
    assert matches("1.2.9", "1.2.*") and matches("3.0.0", "*")
    assert matches("1.5.0", ">=1, <2") and not matches("2.0.0", ">=1, <2")
    assert not matches("1.0.0-rc.1", "1.0") and matches("1.0.0-rc.2", "^1.0.0-rc.1")
