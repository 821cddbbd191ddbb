"""``lamina image diff`` against an oracle: both images unpacked by umoci (the OCI layer rules
applied by another implementation), their root filesystems walked and compared.

The images are hand-made archives whose second image deletes files and directories (whiteouts),
hides a directory's contents (an opaque marker), changes contents, modes, owners and link
targets, and adds hard links; the same images are also read from lamina's store and from an
OCI layout, so the comparison holds across sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from lamina.analysis import diff
from tests.analysis.archives import entry, write_docker_archive
from tests.conftest import require_tool

DIR, SYM, LNK = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def _base() -> list:
    return [entry("bin", kind=DIR), entry("bin/tool", b"t" * 3000, mode=0o755), entry("bin/sh", kind=SYM, linkname="tool"),
            entry("etc", kind=DIR), entry("etc/conf", b"a=1\n"), entry("etc/keep", b"keep\n"),
            entry("var", kind=DIR), entry("var/cache", kind=DIR), entry("var/cache/one", b"1" * 100),
            entry("var/cache/two", b"2" * 200), entry("opt", kind=DIR), entry("opt/lib", kind=DIR),
            entry("opt/lib/a.so", b"so" * 500), entry("home", kind=DIR, mode=0o755)]


IMAGE_A = ([_base(), [entry("etc", kind=DIR), entry("etc/extra", b"x\n")]],
           ["ADD rootfs /", "#empty ENV A=1", "COPY extra /etc/"])
IMAGE_B = ([_base(),
            [entry("etc", kind=DIR), entry("etc/conf", b"a=2\n"), entry("etc/.wh.keep"),
             entry("bin", kind=DIR), entry("bin/sh", kind=SYM, linkname="/bin/tool"),
             entry("bin/tool", b"t" * 3000, mode=0o700, uid=1000, gid=1000), entry("bin/tool2", kind=LNK, linkname="bin/tool")],
            [entry("var", kind=DIR), entry("var/cache", kind=DIR), entry("var/cache/.wh..wh..opq"),
             entry("var/cache/three", b"3"), entry(".wh.opt"), entry("home", kind=DIR, mode=0o700)]],
           ["ADD rootfs /", "#empty ENV A=2", "/bin/sh -c edit", "/bin/sh -c clean"])


def _unpacked(archive: Path, work: Path, name: str) -> dict[str, tuple]:
    """umoci's unpack of a docker-archive (via skopeo into an OCI layout), walked into path -> fields."""
    skopeo, umoci = require_tool("skopeo", "skopeo"), require_tool("umoci", "umoci")
    work.mkdir(parents=True, exist_ok=True)
    layout = work / "layout"
    subprocess.run([skopeo, "copy", "-q", f"docker-archive:{archive}", f"oci:{layout}:{name}"], check=True,
                   capture_output=True)
    bundle = work / f"bundle-{name}"
    subprocess.run([umoci, "unpack", "--image", f"{layout}:{name}", str(bundle)], check=True, capture_output=True)
    rootfs = bundle / "rootfs"
    files = {}
    for directory, dirnames, filenames in os.walk(rootfs):
        for item in dirnames + filenames:
            path = Path(directory, item)
            info = path.lstat()
            relative = str(path.relative_to(rootfs))
            if stat.S_ISDIR(info.st_mode):
                files[relative] = ("dir", 0, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, "", "")
            elif stat.S_ISLNK(info.st_mode):
                files[relative] = ("symlink", 0, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, "",
                                   os.readlink(path))
            else:
                digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
                files[relative] = ("file", info.st_size, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid,
                                   digest, "")
    return files


def _oracle_diff(a: dict[str, tuple], b: dict[str, tuple]) -> dict:
    def comparable(fields: tuple) -> tuple:
        return fields if fields[0] != "symlink" else fields[:2] + (0,) + fields[3:]  # link modes are not kept

    return {"added": sorted(b.keys() - a.keys()), "removed": sorted(a.keys() - b.keys()),
            "changed": sorted(path for path in a.keys() & b.keys() if comparable(a[path]) != comparable(b[path]))}


def _lamina_diff(result) -> dict:
    return {"added": [path for path, _ in result.added], "removed": [path for path, _ in result.removed],
            "changed": [change.path for change in result.changed]}


@pytest.fixture
def two_archives(tmp_path: Path) -> tuple[Path, Path]:
    return (write_docker_archive(tmp_path / "a.tar", *IMAGE_A, tag="diff:a"),
            write_docker_archive(tmp_path / "b.tar", *IMAGE_B, tag="diff:b"))


def test_file_differences_equal_umocis_unpacked_trees(two_archives, tmp_path: Path) -> None:
    archive_a, archive_b = two_archives
    expected = _oracle_diff(_unpacked(archive_a, tmp_path, "a"), _unpacked(archive_b, tmp_path, "b"))
    result = diff(f"docker-archive:{archive_a}", f"docker-archive:{archive_b}")
    assert _lamina_diff(result) == expected
    assert expected["removed"] and expected["added"] and expected["changed"]  # the case covers all three
    fields = {change.path: change.fields for change in result.changed}
    assert fields["etc/conf"] == ["digest"]
    assert fields["bin/tool"] == ["mode", "uid", "gid"]
    assert fields["bin/sh"] == ["link"]


def test_config_and_history_differences(two_archives) -> None:
    archive_a, archive_b = two_archives
    result = diff(f"docker-archive:{archive_a}", f"docker-archive:{archive_b}")
    history_a = json.loads(_config_of(archive_a))["history"]
    history_b = json.loads(_config_of(archive_b))["history"]
    assert [index for index, _, _ in result.history] == list(range(1, max(len(history_a), len(history_b))))
    assert result.history[0][1] == "ENV A=1 (empty layer)" and result.history[0][2] == "ENV A=2 (empty layer)"
    assert result.config == []  # the hand-made configs differ only in rootfs and history
    assert result.shared_layers == 1


def test_same_image_from_three_sources_is_identical(lamina, two_archives, tmp_path: Path) -> None:
    archive_a, _ = two_archives
    lamina.out("load", "-i", str(archive_a))
    layout = tmp_path / "layout"
    subprocess.run([require_tool("skopeo", "skopeo"), "copy", "-q", f"docker-archive:{archive_a}",
                    f"oci:{layout}:a"], check=True, capture_output=True)
    for other in (f"docker-archive:{archive_a}", f"oci:{layout}:a"):
        output = json.loads(lamina.out("image", "diff", "--format", "json", "diff:a", other))
        assert output["files"] == {"added": [], "removed": [], "changed": []}
        assert output["history"] == [] and output["sharedLayers"] == 2


def test_table_output_marks_added_removed_changed(lamina, two_archives) -> None:
    archive_a, archive_b = two_archives
    table = lamina.out("image", "diff", f"docker-archive:{archive_a}", f"docker-archive:{archive_b}")
    assert "D /etc/keep" in table and "A /var/cache/three" in table and "D /opt/lib/a.so" in table
    assert "C /bin/tool  (mode 0755 -> 0700, uid 0 -> 1000, gid 0 -> 1000)" in table


def test_missing_image_is_a_one_line_error(lamina, two_archives, tmp_path: Path) -> None:
    archive_a, _ = two_archives
    lamina.fails("image", "diff", f"docker-archive:{archive_a}", f"docker-archive:{tmp_path / 'nope.tar'}")


def _config_of(archive: Path) -> bytes:
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        return tar.extractfile(manifest[0]["Config"]).read()
