"""The SBOM caches in the store: a second sbom reads no layer and says the same.

Two levels: each layer's walk (``cache/sbom``) and each stack's inventory (``cache/inventory``).
The walker-level equivalence (every walker scenario rebuilt from recorded entries) is in
test_sbom_walk.py's "replayed" mode; these tests run the real CLI against a store.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

from tests.conftest import Lamina

STATUS = b"""Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5

Package: libfoo1
Status: install ok installed
Architecture: amd64
Source: foo
Version: 1.2-3

"""
OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def rootfs_tar(path: Path, status: bytes = STATUS) -> Path:
    """A small root filesystem with a dpkg database, a release file, a symlink and a large file."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in [("etc/os-release", OS_RELEASE), ("var/lib/dpkg/status", status),
                              ("usr/share/big.bin", b"\x7fELF" + b"x" * (300 << 10)), ("etc/hostname", b"h\n")]:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("usr/lib/os-release")
        link.type, link.linkname = tarfile.SYMTYPE, "../../etc/os-release"
        tar.addfile(link)
    path.write_bytes(out.getvalue())
    return path


def entries(root: Path, kind: str = "sbom") -> list[str]:
    directory = root / "cache" / kind
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith((".tmp-", "lamina-"))) \
        if directory.is_dir() else []


def sbom_json(lamina: Lamina, spec: str) -> dict:
    return json.loads(lamina.out("sbom", spec, "-f", "json"))


def test_a_second_sbom_of_a_store_image_is_read_from_the_cache_and_equal(lamina, tmp_path):
    lamina.out("import", str(rootfs_tar(tmp_path / "rootfs.tar")), "cached:1")
    cold = sbom_json(lamina, "cached:1")
    cached = entries(lamina.root)
    assert len(cached) == 1
    assert {p["name"] for p in cold["packages"]} >= {"base-files", "libfoo1"}
    assert len(entries(lamina.root, "inventory")) == 1
    warm = sbom_json(lamina, "cached:1")
    assert warm == cold
    shutil.rmtree(lamina.root / "cache" / "inventory")  # the walk alone replayed
    assert sbom_json(lamina, "cached:1") == cold
    assert entries(lamina.root) == cached


def test_a_cached_layer_is_not_read_again(lamina, tmp_path):
    lamina.out("import", str(rootfs_tar(tmp_path / "rootfs.tar")), "cached:1")
    cold = sbom_json(lamina, "cached:1")
    (inspected,) = json.loads(lamina.out("inspect", "cached:1"))
    diff_id = inspected["RootFS"]["Layers"][0]
    (blob,) = [b for b in (lamina.root / "blobs" / "sha256").iterdir() if f"sha256:{b.name}" != inspected["Id"]]
    assert entries(lamina.root)[0].startswith(diff_id.replace(":", "-") + "-")
    # The layer blob made unreadable: a walk that reads it fails, one that replays its entry does not.
    saved = blob.read_bytes()
    blob.write_bytes(b"not a tar")
    try:
        assert sbom_json(lamina, "cached:1") == cold  # from the inventory
        shutil.rmtree(lamina.root / "cache" / "inventory")
        assert sbom_json(lamina, "cached:1") == cold  # from the layer's walk
        (lamina.root / "cache").rename(lamina.root / "cache-aside")
        assert "truncated" in lamina.fails("sbom", "cached:1", "-f", "json")
    finally:
        blob.write_bytes(saved)


def test_an_archive_is_never_cached_and_gives_the_same_packages(lamina, tmp_path):
    lamina.out("import", str(rootfs_tar(tmp_path / "rootfs.tar")), "cached:1")
    stored = sbom_json(lamina, "cached:1")
    lamina.out("save", "-o", str(tmp_path / "saved.tar"), "cached:1")
    other = Lamina(tmp_path / "other-store")
    from_archive = sbom_json(other, f"docker-archive:{tmp_path / 'saved.tar'}")
    assert entries(other.root) == []
    assert from_archive["packages"] == stored["packages"]


def test_an_unreadable_entry_is_ignored_and_the_layer_read(lamina, tmp_path):
    lamina.out("import", str(rootfs_tar(tmp_path / "rootfs.tar")), "cached:1")
    cold = sbom_json(lamina, "cached:1")
    (entry,) = entries(lamina.root)
    (lamina.root / "cache" / "sbom" / entry / "record").write_bytes(b"\x00garbage")
    (inventory,) = entries(lamina.root, "inventory")
    (lamina.root / "cache" / "inventory" / inventory / "inventory").write_bytes(b"\x00garbage")
    assert sbom_json(lamina, "cached:1") == cold


def test_a_cached_inventory_gives_the_same_warnings_and_names_the_image_asked_for(lamina, tmp_path):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:  # dpkg packages but no release file: a warning
        info = tarfile.TarInfo("var/lib/dpkg/status")
        info.size = len(STATUS)
        tar.addfile(info, io.BytesIO(STATUS))
    (tmp_path / "bare.tar").write_bytes(out.getvalue())
    lamina.out("import", str(tmp_path / "bare.tar"), "bare:1")
    first = lamina.run("sbom", "bare:1", "-f", "json")
    assert b"no OS release file" in first.stderr
    lamina.out("tag", "bare:1", "other:2")
    again = lamina.run("sbom", "other:2", "-f", "json")
    assert entries(lamina.root, "inventory") and again.stderr == first.stderr
    assert json.loads(again.stdout)["image_name"] == "other:2"
    assert json.loads(again.stdout)["packages"] == json.loads(first.stdout)["packages"]


def test_entries_of_other_stamps_and_of_removed_layers_are_swept(lamina, tmp_path):
    lamina.out("import", str(rootfs_tar(tmp_path / "one.tar")), "one:1")
    sbom_json(lamina, "one:1")
    (old,) = entries(lamina.root)
    algorithm, hex_digest, _ = old.split("-")
    stale = lamina.root / "cache" / "sbom" / f"{algorithm}-{hex_digest}-0000oldstamp"
    stale.mkdir()
    lamina.out("rmi", "one:1")
    lamina.out("import", str(rootfs_tar(tmp_path / "two.tar", STATUS.replace(b"1.2-3", b"1.2-4"))), "two:1")
    two = sbom_json(lamina, "two:1")
    assert {p["version"] for p in two["packages"] if p["name"] == "libfoo1"} == {"1.2-4"}
    (left,) = entries(lamina.root)
    assert left != old and not stale.exists()
    assert len(entries(lamina.root, "inventory")) == 1  # one:1's went with its layer


def test_the_stamp_names_the_catalogers_and_their_code(tmp_path):
    import types

    from lamina.security.sbom.walk import cache_stamp

    source = tmp_path / "custom_cataloger.py"
    source.write_text("WANTED = 'a'\n")
    module = types.ModuleType("custom_cataloger")
    module.__file__ = str(source)
    first = cache_stamp(["dpkg", "custom"], [module])
    assert cache_stamp(["dpkg", "custom"], [module]) == first
    assert cache_stamp(["dpkg"], [module]) != first
    source.write_text("WANTED = 'b'\n")  # a changed cataloger must not read the old entries
    assert cache_stamp(["dpkg", "custom"], [module]) != first
