"""What pull checks beyond blob digests: the diffID of every layer, and that a layer inflates.

The layers here are several MiB so that the download, the inflate and the diffID hash really
run as a pipeline over many chunks (a tiny layer fits in one).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

import pytest

from lamina.registry.config import RegistryConfig
from tests.conftest import Lamina, store_listing
from tests.registry.servers import digest_of, make_client, push_blob, random_bytes

pytestmark = pytest.mark.registry


def _layer_tar(seed: int, size: int) -> bytes:
    """A tar holding one file of ``size`` half-compressible bytes."""
    half = random_bytes(size // 2, seed=seed)
    content = half + bytes(size - len(half))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"data-{seed}.bin")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def _push_image(host: str, repository: str, tag: str, layer: bytes, diff_id: str) -> None:
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "history": [{"created_by": "test"}],
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                   "digest": digest_of(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": len(layer),
                    "digest": digest_of(layer)}],
    }).encode()
    with make_client(host, config=RegistryConfig()) as client:
        push_blob(client, repository, layer)
        push_blob(client, repository, config)
        client.put_manifest(repository, tag, manifest, "application/vnd.oci.image.manifest.v1+json")


def _store_with_an_image(tmp_path, busybox_tar, name: str) -> Lamina:
    store = Lamina(tmp_path / name)
    store.out("import", str(busybox_tar), "existing:1")
    return store


def test_a_layer_in_several_gzip_members_pulls_with_the_right_diffid(anon_registry, tmp_path):
    tar = _layer_tar(1, 6 * 1024 * 1024)
    third = len(tar) // 3
    # concatenated members (as pigz --independent or bgzip write): one stream to the diffID
    layer = b"".join(gzip.compress(tar[i:i + third], mtime=0) for i in range(0, len(tar), third))
    tag = os.urandom(3).hex()
    _push_image(anon_registry.host, "verify/members", tag, layer, digest_of(tar))
    store = Lamina(tmp_path / "members")
    ref = f"{anon_registry.host}/verify/members:{tag}"
    assert "Pull complete" in store.out("pull", ref)
    [document] = json.loads(store.out("inspect", ref))
    assert document["RootFS"]["Layers"] == [digest_of(tar)]
    assert "0 problems, clean" in store.out("fsck")


def test_a_layer_whose_diffid_is_not_the_configs_is_refused_and_nothing_kept(anon_registry, tmp_path, busybox_tar):
    tar = _layer_tar(2, 5 * 1024 * 1024)
    layer = gzip.compress(tar, compresslevel=1, mtime=0)
    wrong = digest_of(tar + b"\0")
    tag = os.urandom(3).hex()
    _push_image(anon_registry.host, "verify/diffid", tag, layer, wrong)
    store = _store_with_an_image(tmp_path, busybox_tar, "diffid")
    before = store_listing(store.root)
    stderr = store.fails("pull", f"{anon_registry.host}/verify/diffid:{tag}")
    assert digest_of(layer) in stderr and wrong in stderr and "Traceback" not in stderr
    assert store_listing(store.root) == before


def test_a_layer_that_does_not_inflate_is_refused_naming_it(anon_registry, tmp_path, busybox_tar):
    tar = _layer_tar(3, 4 * 1024 * 1024)
    good = gzip.compress(tar, compresslevel=1, mtime=0)
    # the blob matches its digest, but its deflate data is damaged in the middle
    layer = good[:len(good) // 2] + bytes(4096) + good[len(good) // 2 + 4096:]
    tag = os.urandom(3).hex()
    _push_image(anon_registry.host, "verify/corrupt", tag, layer, digest_of(tar))
    store = _store_with_an_image(tmp_path, busybox_tar, "corrupt")
    before = store_listing(store.root)
    stderr = store.fails("pull", f"{anon_registry.host}/verify/corrupt:{tag}")
    assert f"layer {digest_of(layer)}" in stderr and "Traceback" not in stderr
    assert store_listing(store.root) == before
