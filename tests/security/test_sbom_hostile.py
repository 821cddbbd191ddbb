"""Bad input to lamina sbom: a warning naming the file or one error line, in bounded time, never a traceback."""

from __future__ import annotations

import json
import struct

import pytest

from lamina.security.sbom import catalog_image
from tests.security.conftest import MemoryImage, layer_tar

DEBIAN = [("etc/debian_version", b"12.5\n")]
GOOD_PARAGRAPH = b"Package: good\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n"


def sbom_of(lamina, tmp_path, *layers, expect_warning: str | None = None) -> dict:
    archive = MemoryImage([layer_tar(members) for members in layers]).docker_archive(tmp_path / "bad.tar")
    result = lamina.run("sbom", f"docker-archive:{archive}", "--format", "cyclonedx-json", timeout=60)
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    if expect_warning is not None:
        assert "lamina: warning: " in stderr and expect_warning in stderr, stderr
    return json.loads(result.stdout)


def names(document: dict) -> set[str]:
    return {c["name"] for c in document["components"] if c.get("purl")}


def test_an_oversized_dpkg_paragraph_is_skipped_with_a_warning(lamina, tmp_path):
    huge = b"Package: huge\nVersion: 1\nDescription: x\n" + b" filler line\n" * 120_000
    document = sbom_of(lamina, tmp_path, [*DEBIAN, ("var/lib/dpkg/status", huge + b"\n" + GOOD_PARAGRAPH)],
                       expect_warning="var/lib/dpkg/status:1")
    assert names(document) == {"good"}


def test_deinstalled_and_nameless_dpkg_records_are_not_packages(lamina, tmp_path):
    status = (b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n"
              b"Version: 2\n\nPackage: noversion\n\n" + GOOD_PARAGRAPH)
    assert names(sbom_of(lamina, tmp_path, [*DEBIAN, ("var/lib/dpkg/status", status)])) == {"good"}


def test_a_corrupt_rpm_sqlite_database_is_a_warning(lamina, tmp_path):
    layer = [("etc/redhat-release", b"Red Hat Enterprise Linux release 9.2 (Plow)\n"),
             ("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\0" + b"\xff" * 4000)]
    assert names(sbom_of(lamina, tmp_path, layer, expect_warning="var/lib/rpm/rpmdb.sqlite")) == set()


def _bdb_with_overflow_loop() -> bytes:
    page_size = 512
    meta = bytearray(page_size)
    struct.pack_into("<I", meta, 12, 0x061561)
    struct.pack_into("<I", meta, 20, page_size)
    meta[25] = 8
    struct.pack_into("<I", meta, 32, 2)
    hash_page = bytearray(page_size)
    hash_page[25] = 13
    struct.pack_into("<H", hash_page, 20, 2)
    struct.pack_into("<HH", hash_page, 26, 300, 400)
    hash_page[400] = 3
    struct.pack_into("<II", hash_page, 404, 2, 100_000)
    overflow = bytearray(page_size)
    overflow[25] = 7
    struct.pack_into("<I", overflow, 16, 2)  # next page: itself
    return bytes(meta + hash_page + overflow)


@pytest.mark.parametrize("path, content, needle", [
    ("var/lib/rpm/Packages", _bdb_with_overflow_loop(), "loop"),
    ("var/lib/rpm/Packages", b"\0" * 4096, "not a Berkeley DB"),
    ("usr/lib/sysimage/rpm/Packages.db", b"RpmP" + b"\0" * 8 + b"\1\0\0\0" + b"\0" * 16 + b"junk" * 1024,
     "slot"),
])
def test_corrupt_berkeley_and_ndb_databases_are_warnings(lamina, tmp_path, path, content, needle):
    layer = [("etc/redhat-release", b"Red Hat Enterprise Linux release 8.8 (Ootpa)\n"), (path, content)]
    assert names(sbom_of(lamina, tmp_path, layer, expect_warning=needle)) == set()


def test_a_header_blob_that_claims_more_than_it_holds_is_refused():
    from lamina.security.sbom.rpmdb import RpmDBError, parse_header

    with pytest.raises(RpmDBError, match="does not fit"):
        parse_header(struct.pack(">II", 0xFFFF, 1 << 27) + b"\0" * 64, "var/lib/rpm/Packages")


def test_symlink_loops_in_release_files_detect_no_os(memory_image):
    image = memory_image([("etc/os-release", "os-release.d/x"), ("etc/os-release.d", "/etc"),
                          ("etc/debian_version", "debian_version"), ("etc/alpine-release", "../../../etc/alpine-release")])
    inventory = catalog_image(image)
    assert inventory.os is None and inventory.packages == []


def test_a_truncated_layer_is_one_error_line(lamina, tmp_path):
    tar = layer_tar([("var/lib/dpkg/status", GOOD_PARAGRAPH * 2000)])
    archive = MemoryImage([tar[: len(tar) // 2]]).docker_archive(tmp_path / "truncated.tar")
    assert "truncated" in lamina.fails("sbom", f"docker-archive:{archive}")


def test_a_deep_status_d_is_read_without_warnings(lamina, tmp_path):
    files = [(f"var/lib/dpkg/status.d/pkg{i}", f"Package: pkg{i}\nVersion: {i}.0\nArchitecture: all\n".encode())
             for i in range(300)] + [("var/lib/dpkg/status.d/pkg0.md5sums", b"x  /bin/x\n")]
    document = sbom_of(lamina, tmp_path, [*DEBIAN, *files])
    assert len(names(document)) == 300


def test_a_database_of_millions_of_tiny_records_is_capped(lamina, tmp_path, monkeypatch):
    from lamina.security.sbom import catalogers

    monkeypatch.setattr(catalogers, "MAX_PACKAGES_PER_DATABASE", 50)
    status = b"".join(b"Package: p%d\nVersion: 1\n\n" % i for i in range(200))
    warnings: list[str] = []
    image = MemoryImage([layer_tar([*DEBIAN, ("var/lib/dpkg/status", status)])])
    inventory = catalog_image(image, on_warning=warnings.append)
    assert len(inventory.packages) == 50
    assert warnings == ["var/lib/dpkg/status: more than 50 packages, the rest skipped"]
