"""Each language cataloger on small images: which files count, which fields, what is no package.

The rules are Trivy's (pkg/fanal/analyzer/language and pkg/dependency/parser in aquasecurity/trivy);
test_lang_oracles.py checks the same catalogers against the real Trivy and Syft.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from lamina.security.sbom import catalog_image
from lamina.security.sbom.lang.gobinary import (
    GoBinaryCataloger,
    parse_modinfo,
    stdlib_version,
    version_from_ldflags,
)
from lamina.security.sbom.lang.java import JavaCataloger
from lamina.security.sbom.lang.node import NodeCataloger
from lamina.security.sbom.lang.package import purl_of
from lamina.security.sbom.lang.php import ComposerCataloger
from lamina.security.sbom.lang.python import PythonCataloger
from lamina.security.sbom.lang.ruby import GemspecCataloger
from lamina.security.sbom.lang.rust import RustBinaryCataloger
from tests.security.conftest import MemoryImage
from tests.security.lang_fixtures import (
    DATA,
    EXECUTABLE,
    FILE,
    auditable_binary,
    elf_file,
    go_binary,
    layer_tar,
    package_json,
    pom_properties,
    zip_bytes,
)


def catalog(cataloger, *layers):
    """(kind, name, version, path) rows and warnings of one cataloger over an image of ``layers``."""
    warnings: list[str] = []
    image = MemoryImage([layer_tar(entries) for entries in layers])
    inventory = catalog_image(image, [cataloger], on_warning=warnings.append)
    return sorted((p.kind, p.name, p.version, p.path) for p in inventory.packages), warnings


# -- Python ------------------------------------------------------------------------------------

def test_python_metadata_header_ends_at_the_first_blank_line():
    metadata = b"Metadata-Version: 2.1\nName: Real_Name\nVersion: 2.0\nLicense-Expression: MIT\n\nName: body\n"
    rows, warnings = catalog(PythonCataloger(), [("lib/x/real_name-2.0.dist-info/METADATA", metadata, FILE)])
    assert rows == [("python-pkg", "Real_Name", "2.0", "lib/x/real_name-2.0.dist-info/METADATA")]
    assert warnings == []


def test_python_files_trivy_reads_and_those_it_does_not():
    pkg_info = b"Name: {name}\nVersion: 1\n"
    layer = [
        ("a/one.egg-info", pkg_info.replace(b"{name}", b"one"), FILE),
        ("a/two.egg-info/PKG-INFO", pkg_info.replace(b"{name}", b"two"), FILE),
        ("a/three.egg-info/METADATA", pkg_info.replace(b"{name}", b"three"), FILE),
        ("a/four/EGG-INFO/PKG-INFO", pkg_info.replace(b"{name}", b"four"), FILE),
        ("a/five-1-py3.egg", zip_bytes({"EGG-INFO/PKG-INFO": pkg_info.replace(b"{name}", b"five")}), FILE),
        ("a/METADATA", pkg_info.replace(b"{name}", b"not-in-dist-info"), FILE),
        ("a/six.dist-info/RECORD", pkg_info.replace(b"{name}", b"not-metadata"), FILE),
    ]
    rows, _ = catalog(PythonCataloger(), layer)
    assert [row[1] for row in rows] == ["five", "four", "one", "three", "two"]


def test_python_record_without_a_version_is_a_warning_naming_the_file():
    rows, warnings = catalog(PythonCataloger(), [("s/x.dist-info/METADATA", b"Name: x\n", FILE)])
    assert rows == []
    assert len(warnings) == 1 and warnings[0].startswith("s/x.dist-info/METADATA: ")


def test_pypi_purls_are_lower_case_with_dashes():
    assert purl_of("python-pkg", "Foo_Bar.baz", "1.0+local") == "pkg:pypi/foo-bar.baz@1.0%2Blocal"


# -- Node --------------------------------------------------------------------------------------

def test_every_package_json_with_name_and_version_is_a_package_lockfiles_are_not():
    layer = [
        ("srv/package.json", package_json("app", "1.0.0"), FILE),
        ("srv/node_modules/@scope/Pkg/package.json", package_json("@scope/Pkg", "2.0.0"), FILE),
        ("srv/node_modules/a/node_modules/b/package.json", package_json("b", "3.0.0"), FILE),
        ("srv/node_modules/nover/package.json", package_json("nover"), FILE),
        ("srv/node_modules/tail/package.json", package_json("tail", "4.0.0") + b"\n}garbage", FILE),
        ("srv/package-lock.json", json.dumps({"packages": {"node_modules/x": {"version": "1.0.0"}}}).encode(), FILE),
        ("srv/yarn.lock", b'x@^1.0.0:\n  version "1.0.0"\n', FILE),
    ]
    rows, warnings = catalog(NodeCataloger(), layer)
    assert [(name, version) for _, name, version, _ in rows] == [("@scope/Pkg", "2.0.0"), ("app", "1.0.0"), ("b", "3.0.0"),
                                                                  ("tail", "4.0.0")]
    assert warnings == []
    assert purl_of("node-pkg", "@scope/Pkg", "2.0.0") == "pkg:npm/%40scope/pkg@2.0.0"


def test_a_package_json_npm_would_refuse_is_a_warning():
    rows, warnings = catalog(NodeCataloger(), [
        ("n/package.json", package_json("bad name!", "1.0.0"), FILE),
        ("m/package.json", b"{not json", FILE),
        ("o/package.json", json.dumps({"name": "x", "version": 3}).encode(), FILE)])
    assert rows == []
    assert sorted(w.split(":")[0] for w in warnings) == ["m/package.json", "n/package.json", "o/package.json"]


# -- Ruby --------------------------------------------------------------------------------------

def test_installed_gem_specifications_are_read_as_trivy_reads_them():
    rake = (DATA / "rake-13.0.6.gemspec").read_bytes()
    rows, warnings = catalog(GemspecCataloger(), [
        ("usr/share/rubygems-integration/all/specifications/rake-13.0.6.gemspec", rake, FILE),
        ("srv/rake.gemspec", rake, FILE),  # not under specifications/: a gem's source, not an installed gem
        ("g/specifications/broken-1.gemspec", b"Gem::Specification.new do |s|\nend\n", FILE)])
    assert [(name, version) for _, name, version, _ in rows] == [("rake", "13.0.6")]
    assert [w.split(":")[0] for w in warnings] == ["g/specifications/broken-1.gemspec"]


def test_gemspec_licenses_are_kept():
    from lamina.security.sbom.lang.ruby import parse_gemspec

    assert parse_gemspec((DATA / "rake-13.0.6.gemspec").read_bytes()) == ("rake", "13.0.6", ("MIT",))


# -- PHP ---------------------------------------------------------------------------------------

def test_composer_installed_json_in_both_shapes():
    v2 = {"packages": [{"name": "psr/log", "version": "3.0.0"}, {"name": "psr/log", "version": "9"}],
          "packages-dev": [{"name": "phpunit/phpunit", "version": "10.5.0"}]}
    v1 = [{"name": "monolog/monolog", "version": "1.27.1"}]
    rows, warnings = catalog(ComposerCataloger(), [
        ("a/vendor/composer/installed.json", json.dumps(v2).encode(), FILE),
        ("b/vendor/composer/installed.json", json.dumps(v1).encode(), FILE)])
    assert [(name, version) for _, name, version, _ in rows] == [
        ("monolog/monolog", "1.27.1"), ("phpunit/phpunit", "10.5.0"), ("psr/log", "3.0.0")]
    assert {row[0] for row in rows} == {"composer-vendor"} and warnings == []
    assert purl_of("composer-vendor", "psr/log", "3.0.0") == "pkg:composer/psr/log@3.0.0"


# -- Go ----------------------------------------------------------------------------------------

MODINFO = ("path\texample.com/Tool\nmod\texample.com/Tool\tv0.0.0-20240101000000-abcdefabcdef\t\n"
           "dep\tgithub.com/a/b\tv1.0.0\th1:x\n=>\t../local/b\t(devel)\t\n"
           "dep\tgithub.com/c/d\t(devel)\t\n"
           "build\t-ldflags=\"-s -w -X example.com/Tool/cmd/tool.version=v2.3.4 -X main.version=9.9.9\"\n")


def test_go_modules_replacements_and_devel_versions_as_trivy_reports_them():
    from lamina.security.sbom.lang.gobinary import packages_of

    info = parse_modinfo("go1.22.3 X:boringcrypto", MODINFO)
    assert packages_of(info) == [("stdlib", "v1.22.3"), ("../local/b", ""), ("github.com/c/d", ""),
                                 ("example.com/Tool", "v2.3.4")]
    assert purl_of("gobinary", "../local/b", "") == ""
    assert purl_of("gobinary", "example.com/Tool", "v2.3.4") == "pkg:golang/example.com/tool@v2.3.4"


def test_ldflags_versions_the_most_specific_key_wins_and_two_equal_ranks_tie_to_nothing():
    assert version_from_ldflags("m", "-X main.version=1.0.0 -X other/pkg.Version=2.0.0") == "1.0.0"
    assert version_from_ldflags("m", "-X a.version=1.0.0 -X b.version=2.0.0") == ""
    assert version_from_ldflags("m", "-X main.version=notsemver") == ""
    assert stdlib_version("go1.21.0-X:nocoverageredesign") == "v1.21.0"


def test_both_build_info_layouts_give_the_same_modules():
    modinfo = "path\tx.io/y\nmod\tx.io/y\tv1.0.0\t\ndep\tx.io/z\tv0.1.0\th1:a\n"
    rows = []
    for index, inline in enumerate((False, True)):
        found, warnings = catalog(GoBinaryCataloger(), [(f"bin/t{index}", go_binary("go1.17.2", modinfo, inline=inline),
                                                         EXECUTABLE)])
        assert warnings == []
        rows.append([(name, version) for _, name, version, _ in found])
    assert rows[0] == rows[1] == [("stdlib", "v1.17.2"), ("x.io/y", "v1.0.0"), ("x.io/z", "v0.1.0")]


def test_a_go_binary_that_is_not_executable_is_not_read():
    rows, _ = catalog(GoBinaryCataloger(), [("bin/t", go_binary("go1.20", "mod\ta\tv1.0.0\t\n", inline=True), FILE)])
    assert rows == []


# -- Rust --------------------------------------------------------------------------------------

def test_auditable_crates_without_build_only_ones():
    binary = auditable_binary([{"name": "app", "version": "0.1.0", "root": True, "dependencies": [1, 2]},
                               {"name": "log", "version": "0.4.20"},
                               {"name": "cc", "version": "1.0.0", "kind": "build"}])
    rows, warnings = catalog(RustBinaryCataloger(), [("bin/app", binary, EXECUTABLE),
                                                     ("bin/plain", elf_file(b"\0" * 64), EXECUTABLE)])
    assert [(name, version) for _, name, version, _ in rows] == [("app", "0.1.0"), ("log", "0.4.20")]
    assert warnings == []


def test_a_dep_section_that_is_not_zlib_is_a_warning():
    rows, warnings = catalog(RustBinaryCataloger(), [("bin/x", elf_file(b"\0" * 64, {".dep-v0": b"garbage"}), EXECUTABLE)])
    assert rows == [] and len(warnings) == 1 and warnings[0].startswith("bin/x: ")


# -- Java --------------------------------------------------------------------------------------

def test_a_maven_jar_is_its_pom_properties():
    cli = (DATA / "commons-cli-1.5.0.jar").read_bytes()
    rows, warnings = catalog(JavaCataloger(), [("opt/commons-cli-1.5.0.jar", cli, FILE)])
    assert rows == [("jar", "commons-cli:commons-cli", "1.5.0", "opt/commons-cli-1.5.0.jar")]
    assert warnings == []


def test_the_manifest_speaks_only_for_an_archive_without_pom_properties():
    manifest = (b"Manifest-Version: 1.0\r\nBundle-SymbolicName: org.example.lib\r\nImplementation-Title: li\r\n"
                b" b\r\nImplementation-Version: 4.2\r\n\r\nName: other\r\nImplementation-Version: 0\r\n")
    shaded = pom_properties("com.shaded", "dep", "1.1")
    rows, _ = catalog(JavaCataloger(), [
        ("opt/lib.jar", zip_bytes({"META-INF/MANIFEST.MF": manifest}), FILE),
        ("opt/renamed.jar", zip_bytes({"META-INF/MANIFEST.MF": manifest, "META-INF/maven/x/dep/pom.properties": shaded}),
         FILE),
        ("opt/dep-1.1.jar", zip_bytes({"META-INF/MANIFEST.MF": manifest, "META-INF/maven/x/dep/pom.properties": shaded}),
         FILE)])
    assert [(name, version, path) for _, name, version, path in rows] == [
        ("com.shaded:dep", "1.1", "opt/dep-1.1.jar"), ("com.shaded:dep", "1.1", "opt/renamed.jar"),
        ("org.example:lib", "4.2", "opt/lib.jar")]


def test_nested_archives_are_named_by_their_path_inside_the_outer_one():
    inner = zip_bytes({"META-INF/maven/g/inner/pom.properties": pom_properties("g", "inner", "1")})
    ear = zip_bytes({"lib/a.war": zip_bytes({"WEB-INF/lib/inner-1.jar": inner}), "lib/readme.txt": b"x"})
    rows, _ = catalog(JavaCataloger(), [("srv/app.ear", ear, FILE)])
    assert rows == [("jar", "g:inner", "1", "srv/app.ear/lib/a.war/WEB-INF/lib/inner-1.jar")]


def test_incomplete_pom_properties_are_no_package(tmp_path: Path):
    jar = zip_bytes({"META-INF/maven/g/a/pom.properties": b"groupId=g\nartifactId = a\nversion=1\n"})
    rows, warnings = catalog(JavaCataloger(), [("x/a-1.jar", jar, FILE)])
    assert rows == [] and warnings == []


def test_a_jar_that_is_not_a_zip_is_a_warning():
    rows, warnings = catalog(JavaCataloger(), [("x/broken.jar", b"PK\x03\x04 not really", FILE)])
    assert rows == [] and [w.split(":")[0] for w in warnings] == ["x/broken.jar"]


def test_the_fixture_jar_is_what_debian_ships():
    with zipfile.ZipFile(DATA / "commons-cli-1.5.0.jar") as jar:
        assert "META-INF/maven/commons-cli/commons-cli/pom.properties" in jar.namelist()


def test_a_go_binary_a_later_layer_makes_non_executable_is_not_read():
    binary = go_binary("go1.20", "mod\ta\tv1.0.0\t\n", inline=True)
    rows, _ = catalog(GoBinaryCataloger(), [("bin/t", binary, EXECUTABLE), ("bin/u", binary, EXECUTABLE)],
                      [("bin/t", binary, FILE)])
    assert {path for _, _, _, path in rows} == {"bin/u"}
