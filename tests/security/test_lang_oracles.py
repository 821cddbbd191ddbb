"""Language packages of one image, compared with Trivy's and Syft's inventories of the same archive.

The image (tests/security/lang_fixtures.py: app_image_layers) holds one or more packages of every
ecosystem lamina catalogs, things that are no package (a package.json without a version, a
lockfile, a build-only crate, a jar with no Maven metadata), and a second layer that deletes a
dist-info and a node module and rewrites a third. Trivy is the reference: same (kind, name,
version), same purl, same file and layer. Syft names things its own way; it is compared after
the normalisations listed in docs/security.md.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from lamina.image import open_image
from lamina.security.sbom import catalog_image
from tests.security.conftest import MemoryImage
from tests.security.lang_fixtures import app_image_layers, layer_tar, syft_packages, trivy_packages

pytestmark = pytest.mark.slow

LANG_KINDS = {"python-pkg", "node-pkg", "gobinary", "jar", "rustbinary", "gemspec", "composer-vendor"}
#: lamina's deliberate extra: a jar known only by its MANIFEST.MF (Trivy asks its Java DB first)
MANIFEST_ONLY = ("jar", "org.apache.commons:Apache Commons CLI", "1.5.0")


@pytest.fixture(scope="module")
def app_archive(tmp_path_factory) -> tuple[Path, MemoryImage]:
    first, second = app_image_layers()
    image = MemoryImage([layer_tar(first), layer_tar(second)], name="lang:test")
    archive = image.docker_archive(tmp_path_factory.mktemp("lang") / "lang.tar", tag="lang:test")
    return archive, image


@pytest.fixture(scope="module")
def lamina_packages(app_archive):
    archive, _ = app_archive
    warnings: list[str] = []
    image = open_image(f"docker-archive:{archive}")
    try:
        inventory = catalog_image(image, on_warning=warnings.append)
    finally:
        image.close()
    assert warnings == []
    return [package for package in inventory.packages if package.kind in LANG_KINDS]


@pytest.fixture(scope="module")
def trivy(app_archive, tmp_path_factory):
    archive, _ = app_archive
    return [p for p in trivy_packages(archive, tmp_path_factory.mktemp("trivy-cache")) if p["type"] in LANG_KINDS]


def test_the_package_set_is_trivys_but_for_the_manifest_only_jar(lamina_packages, trivy):
    ours = defaultdict(set)
    for package in lamina_packages:
        ours[package.kind].add((package.kind, package.name, package.version))
    theirs = defaultdict(set)
    for package in trivy:
        theirs[package["type"]].add((package["type"], package["name"], package["version"]))
    ours["jar"].discard(MANIFEST_ONLY)
    assert set(ours) == set(theirs) == LANG_KINDS
    for kind in LANG_KINDS:
        assert ours[kind] == theirs[kind], kind


def test_every_ecosystem_is_counted_like_trivy_file_by_file(lamina_packages, trivy):
    """Counts per (kind, name, version) also match: the same module in two Go binaries is two records."""
    def counts(rows):
        tally: dict[tuple, int] = defaultdict(int)
        for row in rows:
            tally[row] += 1
        return dict(tally)
    ours = counts((p.kind, p.name, p.version) for p in lamina_packages if (p.kind, p.name, p.version) != MANIFEST_ONLY)
    assert ours == counts((p["type"], p["name"], p["version"]) for p in trivy)


def test_purls_are_spelled_as_trivy_spells_them(lamina_packages, trivy):
    ours = {package.purl for package in lamina_packages if package.purl} - {
        "pkg:maven/org.apache.commons/Apache%20Commons%20CLI@1.5.0"}
    assert ours == {package["purl"] for package in trivy if package["purl"]}
    assert "pkg:npm/%40types/node@20.1.0" in ours
    assert "pkg:pypi/foo-bar@1.0" in ours


def test_paths_and_layers_are_trivys(lamina_packages, trivy, app_archive):
    _, image = app_archive
    first, second = (layer.diff_id for layer in image.layers())
    theirs = {(p["type"], p["name"], p["version"], p["path"]): p["layer"] for p in trivy if p["path"]}
    ours = {(p.kind, p.name, p.version, p.path): p.layer_diff_id for p in lamina_packages
            if (p.kind, p.name, p.version, p.path) in theirs}
    assert ours == theirs and len(ours) > 15
    layers = {p.layer_diff_id for p in lamina_packages}
    assert layers == {first, second}
    debug = next(p for p in lamina_packages if p.name == "debug")
    assert (debug.version, debug.layer_diff_id) == ("4.3.5", second)


def test_deleted_and_non_packages_are_absent(lamina_packages):
    names = {package.name for package in lamina_packages}
    assert "click" not in names and "lodash" not in names  # deleted by the second layer
    assert "noversion" not in names and "left-pad" not in names and "cc" not in names


def test_syft_finds_the_same_packages_after_normalising_names(lamina_packages, app_archive):
    archive, _ = app_archive
    syft_types = {"python": "python-pkg", "npm": "node-pkg", "go-module": "gobinary", "rust-crate": "rustbinary",
                  "gem": "gemspec", "php-composer": "composer-vendor"}
    theirs = set()
    for package in syft_packages(archive):
        kind = syft_types.get(package["type"])
        if kind is None or package["version"] == "UNKNOWN":  # Syft keeps a package.json without a version
            continue
        theirs.add((kind, _normal_name(kind, package["name"]), _normal_version(package["version"])))
    ours = {(p.kind, _normal_name(p.kind, p.name), _normal_version(p.version))
            for p in lamina_packages if p.kind != "jar"}
    assert ours == theirs


def test_syft_agrees_on_the_plain_jar(lamina_packages, app_archive):
    archive, _ = app_archive
    theirs = {(p["name"], p["version"]) for p in syft_packages(archive)
              if p["type"] == "java-archive" and p["path"] == "/opt/java/commons-cli-1.5.0.jar"}
    ours = {(p.name.split(":")[1], p.version) for p in lamina_packages if p.path == "opt/java/commons-cli-1.5.0.jar"}
    assert ours == theirs == {("commons-cli", "1.5.0")}


def test_lamina_sbom_of_the_loaded_image_agrees_with_trivy_on_what_lamina_saves(app_archive, lamina, tmp_path):
    """The whole path a user takes: load, sbom (CycloneDX) from the store; save, then Trivy."""
    archive, _ = app_archive
    lamina.run("load", "-i", str(archive))
    document = json.loads(lamina.out("sbom", "lang:test", "--format", "cyclonedx-json"))
    language_purls = ("pkg:pypi/", "pkg:npm/", "pkg:golang/", "pkg:maven/", "pkg:cargo/", "pkg:gem/", "pkg:composer/")
    ours = {component["purl"] for component in document["components"]
            if component.get("purl", "").startswith(language_purls)}
    saved = tmp_path / "saved.tar"
    lamina.run("save", "-o", str(saved), "lang:test")
    theirs = {p["purl"] for p in trivy_packages(saved, tmp_path / "cache") if p["type"] in LANG_KINDS and p["purl"]}
    assert ours - theirs == {"pkg:maven/org.apache.commons/Apache%20Commons%20CLI@1.5.0"}
    assert theirs <= ours and len(theirs) > 60


def _normal_name(kind: str, name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower() if kind == "python-pkg" else name


def _normal_version(version: str) -> str:
    """Syft writes Go's ``go1.21.5`` and a ``-X`` version with a ``v``; Trivy ``v1.21.5`` and ``1.2.3``."""
    return version.removeprefix("go").removeprefix("v")


def edge_case_layer() -> list:
    """Inputs where a careless reader and Trivy part ways; each line is a rule of Trivy's."""
    from tests.security.lang_fixtures import (
        EXECUTABLE,
        FILE,
        go_binary,
        package_json,
        pom_properties,
        zip_bytes,
    )

    gem = ("Gem::Specification.new do |{v}|\n  {v}.name = {name}\n  {v}.version = {version}\nend\n")
    pseudo = ("path\tex.io/p\nmod\tex.io/p\tv0.0.0-20240101000000-abcdefabcdef\t\n"
              "build\t-ldflags=\"-X 'ex.io/p/cmd/p.version=v3.1.4' -X main.version=0.0.1\"\n")
    trimmed = "path\tex.io/{module}\nmod\tex.io/{module}\t(devel)\t\nbuild\t-trimpath=true\n"
    return [
        ("n/tail/package.json", package_json("tail", "4.0.0") + b"\n}garbage", FILE),
        ("n/bom/package.json", b"\xef\xbb\xbf" + package_json("bom", "1.0.0"), FILE),
        ("n/bad/package.json", package_json("bad name", "1.0.0"), FILE),
        ("n/Upper/package.json", package_json("@Scope/Upper.Case", "1.0.0-rc.1+build.5"), FILE),
        ("s/x.dist-info/METADATA", b"name: lower\nversion: 1\n", FILE),
        ("s/y.dist-info/METADATA", b"Name: cont\nVersion: 2\nSummary: a\n  b\nbad line\nLicense: X\n", FILE),
        ("s/z.dist-info/METADATA", b"\nName: after-blank\nVersion: 3\n", FILE),
        ("s/w.egg-info/PKG-INFO", b"Name: Zope.Interface\nVersion: 5.0+local\n", FILE),
        ("g/specifications/a.gemspec", gem.format(v="spec", name="'single'.freeze", version="'1.0'").encode(), FILE),
        ("g/specifications/b.gemspec", gem.format(v="s", name='"frozen".freeze', version='"2.0".freeze').encode(),
         FILE),
        ("g/specifications/c.gemspec", b'# s.name = "commented"\n' + gem.format(
            v="s", name='"real"', version='"3.0"').encode(), FILE),
        ("j/app-1.0-SNAPSHOT.jar", zip_bytes({
            "META-INF/maven/g/app/pom.properties": pom_properties("g", "app", "1.0-SNAPSHOT")}), FILE),
        ("j/renamed.jar", zip_bytes({"META-INF/maven/g/lib/pom.properties": pom_properties("g", "lib", "2.0"),
                                     "sub/META-INF/maven/g/shaded/pom.properties": pom_properties("g", "shaded", "3")}),
         FILE),
        ("b/pseudo", go_binary("go1.22.0", pseudo, inline=True), EXECUTABLE),
        # -trimpath keeps -ldflags out of the build info: the -X strings are found by their symbols
        ("b/symbols", go_binary("go1.22.0", trimmed.format(module="sym"), inline=True, symbols={
            "main.version.str": b"2.5.0", "main.commit.str": b"abc", "runtime.other": b"zz"}), EXECUTABLE),
        ("b/two-symbols", go_binary("go1.22.0", trimmed.format(module="two"), inline=True, symbols={
            "main.version.str": b"2.5.0", "common.Version.str": b"3.0.0"}), EXECUTABLE),
        ("c/vendor/composer/installed.json", json.dumps({"packages": [
            {"name": "a/b", "version": "v1.2.3"}, {"name": "a/b", "version": "9.9.9"},
            {"name": "c/d", "version": "dev-main"}]}).encode(), FILE),
    ]


def test_edge_cases_come_out_as_trivy_reads_them(tmp_path):
    image = MemoryImage([layer_tar(edge_case_layer())], name="edge:test")
    archive = image.docker_archive(tmp_path / "edge.tar", tag="edge:test")
    warnings: list[str] = []
    inventory = catalog_image(image, on_warning=warnings.append)
    ours = {(p.kind, p.name, p.version, p.purl) for p in inventory.packages}
    theirs = {(p["type"], p["name"], p["version"], p["purl"]) for p in trivy_packages(archive, tmp_path / "cache")}
    assert ours == theirs
    assert ("gobinary", "ex.io/p", "v3.1.4", "pkg:golang/ex.io/p@v3.1.4") in ours
    assert ("gobinary", "ex.io/sym", "2.5.0", "pkg:golang/ex.io/sym@2.5.0") in ours
    assert ("gobinary", "ex.io/two", "", "pkg:golang/ex.io/two") in ours
    assert sorted(w.split(":")[0] for w in warnings) == [
        "n/bad/package.json", "n/bom/package.json", "s/z.dist-info/METADATA"]
