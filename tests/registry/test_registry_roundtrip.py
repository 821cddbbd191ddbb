"""Round trips against a real anonymous distribution registry: blobs, manifests, tags, catalog."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest
from servers import Fault, digest_of, make_client, opener, push_blob, random_bytes, tiny_image

from lamina.errors import DigestMismatchError, InvalidDigestError, RegistryError
from lamina.registry.client import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    BlobPushOutcome,
    RegistryClient,
    RegistryResponseError,
)


def test_ping_finds_plain_http_on_loopback_without_configuration(anon_client: RegistryClient) -> None:
    assert anon_client.ping() is None
    assert anon_client._registry.base_url.startswith("http://")


def test_monolithic_upload_then_fetch_returns_the_same_bytes(anon_client: RegistryClient) -> None:
    data = random_bytes(3 * 1024 * 1024 + 17)
    digest = digest_of(data)
    outcome = anon_client.upload_blob("rt/mono", digest, len(data), opener(data))
    assert outcome is BlobPushOutcome.UPLOADED
    assert anon_client.blob_exists("rt/mono", digest) == len(data)
    sink = io.BytesIO()
    assert anon_client.fetch_blob("rt/mono", digest, sink, expected_size=len(data)) == len(data)
    assert sink.getvalue() == data


def test_upload_sends_one_patch_and_a_put_like_docker(anon_registry, fault_proxy) -> None:
    data = random_bytes(2 * 1024 * 1024)
    with make_client(fault_proxy.host) as client:
        push_blob(client, "rt/wire", data)
    methods = [(r.method, r.path.split("?")[0].rsplit("/", 2)[-2]) for r in fault_proxy.requests() if r.path != "/v2/"]
    assert [m for m, _ in methods] == ["HEAD", "POST", "PATCH", "PUT"]


def test_chunked_upload_sends_several_patches_with_content_range(fault_proxy) -> None:
    data = random_bytes(5 * 1024 * 1024 + 3)
    with make_client(fault_proxy.host) as client:
        digest = push_blob(client, "rt/chunked", data, chunk_size=2 * 1024 * 1024)
        sink = io.BytesIO()
        client.fetch_blob("rt/chunked", digest, sink)
    patches = fault_proxy.requests("PATCH")
    assert [p.headers["Content-Range"] for p in patches] == ["0-2097151", "2097152-4194303", "4194304-5242882"]
    assert sink.getvalue() == data


def test_chunk_minimum_announced_by_the_registry_is_honoured(fault_proxy) -> None:
    data = random_bytes(2 * 1024 * 1024 + 10)
    fault_proxy.add(Fault("POST", "/blobs/uploads/", "add_headers", headers={"OCI-Chunk-Min-Length": "1048576"}))
    with make_client(fault_proxy.host) as client:
        digest = push_blob(client, "rt/min-chunk", data, chunk_size=256 * 1024)
        assert client.blob_exists("rt/min-chunk", digest) == len(data)
    patches = fault_proxy.requests("PATCH")
    assert [p.headers["Content-Range"] for p in patches] == ["0-1048575", "1048576-2097151", "2097152-2097161"]


def test_existing_blob_is_not_uploaded_again(anon_client: RegistryClient) -> None:
    data = random_bytes(1000)
    push_blob(anon_client, "rt/again", data)
    outcome = anon_client.upload_blob("rt/again", digest_of(data), len(data), opener(data))
    assert outcome is BlobPushOutcome.EXISTS


def test_empty_blob_round_trips(anon_client: RegistryClient) -> None:
    digest = push_blob(anon_client, "rt/empty", b"")
    sink = io.BytesIO()
    assert anon_client.fetch_blob("rt/empty", digest, sink, expected_size=0) == 0


def test_cross_repository_mount_answers_201(anon_client: RegistryClient, fault_proxy) -> None:
    data = random_bytes(4096)
    digest = push_blob(anon_client, "rt/source", data)
    with make_client(fault_proxy.host) as client:
        outcome = client.upload_blob("rt/target", digest, len(data), opener(data), mount_from="rt/source")
    assert outcome is BlobPushOutcome.MOUNTED
    posts = fault_proxy.requests("POST")
    assert len(posts) == 1 and "mount=sha256" in posts[0].path and "from=rt%2Fsource" in posts[0].path
    assert not fault_proxy.requests("PATCH")
    assert anon_client.blob_exists("rt/target", digest) == len(data)


def test_mount_of_a_blob_the_source_lacks_falls_back_to_upload(anon_client: RegistryClient, fault_proxy) -> None:
    data = random_bytes(2048)
    with make_client(fault_proxy.host) as client:
        outcome = client.upload_blob("rt/mount-miss", digest_of(data), len(data), opener(data), mount_from="rt/none")
    assert outcome is BlobPushOutcome.UPLOADED
    assert anon_client.blob_exists("rt/mount-miss", digest_of(data)) == len(data)
    # the 202 answer to the mount opened an upload: it is used, not a second POST
    calls = [(r.method, "mount=" in r.path) for r in fault_proxy.requests() if r.path != "/v2/"]
    assert calls == [("HEAD", False), ("POST", True), ("PATCH", False), ("PUT", False)]


def test_upload_with_wrong_digest_is_refused(anon_client: RegistryClient) -> None:
    data = random_bytes(1024)
    wrong = digest_of(b"something else")
    with pytest.raises(DigestMismatchError, match=wrong.split(":")[1][:12]):
        anon_client.upload_blob("rt/wrong", wrong, len(data), opener(data))


def test_manifest_round_trip_by_tag_and_digest(anon_client: RegistryClient) -> None:
    layer, config, manifest, _ = tiny_image("manifest")
    push_blob(anon_client, "rt/image", layer)
    push_blob(anon_client, "rt/image", config)
    digest = anon_client.put_manifest("rt/image", "v1", manifest, DOCKER_MANIFEST)
    assert digest == digest_of(manifest)
    by_tag = anon_client.get_manifest("rt/image", "v1")
    assert by_tag == (manifest, DOCKER_MANIFEST, digest)
    by_digest = anon_client.get_manifest("rt/image", digest)
    assert by_digest.data == manifest
    head = anon_client.head_manifest("rt/image", "v1")
    assert head is not None and head.digest == digest and head.size == len(manifest)
    assert anon_client.head_manifest("rt/image", "nope") is None


def test_oci_manifest_and_index_keep_their_media_types(anon_client: RegistryClient) -> None:
    layer, config, _, _ = tiny_image("oci")
    push_blob(anon_client, "rt/oci", layer)
    push_blob(anon_client, "rt/oci", config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                   "digest": digest_of(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": len(layer),
                    "digest": digest_of(layer)}],
    }).encode()
    manifest_digest = anon_client.put_manifest("rt/oci", "m", manifest, OCI_MANIFEST)
    index = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "size": len(manifest), "digest": manifest_digest,
                       "platform": {"architecture": "amd64", "os": "linux"}}],
    }).encode()
    anon_client.put_manifest("rt/oci", "multi", index, OCI_INDEX)
    assert anon_client.get_manifest("rt/oci", "multi").media_type == OCI_INDEX
    assert anon_client.get_manifest("rt/oci", "m").media_type == OCI_MANIFEST


def test_manifest_pushed_under_a_digest_it_does_not_have_is_refused_locally(anon_client: RegistryClient) -> None:
    with pytest.raises(DigestMismatchError):
        anon_client.put_manifest("rt/x", digest_of(b"other"), b"{}", OCI_MANIFEST)


def test_delete_manifest_then_it_is_gone(anon_client: RegistryClient) -> None:
    layer, config, manifest, _ = tiny_image("delete")
    push_blob(anon_client, "rt/delete", layer)
    push_blob(anon_client, "rt/delete", config)
    digest = anon_client.put_manifest("rt/delete", "gone", manifest, DOCKER_MANIFEST)
    anon_client.delete_manifest("rt/delete", digest)
    assert anon_client.head_manifest("rt/delete", digest) is None


def test_unknown_repository_reads_like_docker(anon_client: RegistryClient) -> None:
    # distribution answers MANIFEST_UNKNOWN (not NAME_UNKNOWN) here; docker prints the same line
    # (compared with the private dockerd's pull in test_pull_push.py).
    with pytest.raises(RegistryError) as caught:
        anon_client.get_manifest("rt/does-not-exist", "latest")
    assert str(caught.value) == (
        f"manifest for {anon_client.host}/rt/does-not-exist:latest not found: manifest unknown: manifest unknown"
    )


def test_unknown_tag_of_a_known_repository_is_manifest_unknown(anon_client: RegistryClient) -> None:
    layer, config, manifest, _ = tiny_image("tagless")
    push_blob(anon_client, "rt/known", layer)
    push_blob(anon_client, "rt/known", config)
    anon_client.put_manifest("rt/known", "v1", manifest, DOCKER_MANIFEST)
    with pytest.raises(RegistryResponseError, match="not found: manifest unknown") as caught:
        anon_client.get_manifest("rt/known", "v2")
    assert caught.value.status == 404 and "MANIFEST_UNKNOWN" in caught.value.codes


def test_unknown_blob_fetch_is_an_error(anon_client: RegistryClient) -> None:
    with pytest.raises(RegistryError):
        anon_client.fetch_blob("rt/known-blobless", digest_of(b"absent"), io.BytesIO())
    assert anon_client.blob_exists("rt/known-blobless", digest_of(b"absent")) is None


def test_malformed_digest_is_rejected_before_any_request(anon_client: RegistryClient) -> None:
    with pytest.raises(InvalidDigestError):
        anon_client.blob_exists("rt/x", "sha256:XYZ")


def test_tags_are_listed_across_pages(anon_client: RegistryClient, fault_proxy) -> None:
    # distribution 2.8 ignores n= for tags, so the proxy pages the answer as newer registries do.
    layer, config, manifest, _ = tiny_image("tags")
    push_blob(anon_client, "rt/tags", layer)
    push_blob(anon_client, "rt/tags", config)
    names = [f"t{i:02d}" for i in range(7)]
    for name in names:
        anon_client.put_manifest("rt/tags", name, manifest, DOCKER_MANIFEST)
    fault_proxy.add(Fault("GET", "/tags/list", "paginate", times=100))
    with make_client(fault_proxy.host) as client:
        assert client.list_tags("rt/tags", page_size=3) == names
    pages = fault_proxy.requests("GET", "/tags/list")
    assert [p.path.split("?")[1] for p in pages] == ["n=3", "n=3&last=t02", "n=3&last=t05"]


def test_tags_without_pagination_come_in_one_answer(anon_client: RegistryClient) -> None:
    layer, config, manifest, _ = tiny_image("tags1")
    push_blob(anon_client, "rt/tags1", layer)
    push_blob(anon_client, "rt/tags1", config)
    anon_client.put_manifest("rt/tags1", "only", manifest, DOCKER_MANIFEST)
    assert anon_client.list_tags("rt/tags1") == ["only"]


def test_catalog_is_listed_across_pages(anon_client: RegistryClient, fault_proxy) -> None:
    for name in ("cat/a", "cat/b", "cat/c"):
        layer, config, manifest, _ = tiny_image(name)
        push_blob(anon_client, name, layer)
        push_blob(anon_client, name, config)
        anon_client.put_manifest(name, "latest", manifest, DOCKER_MANIFEST)
    with make_client(fault_proxy.host) as client:
        everything = client.catalog(page_size=2)
    assert {"cat/a", "cat/b", "cat/c"} <= set(everything)
    assert everything == sorted(everything)
    pages = fault_proxy.requests("GET", "_catalog")
    assert len(pages) >= 2 and "last=" in pages[1].path  # distribution pages the catalog itself


def test_v1_search_is_none_on_distribution(anon_client: RegistryClient) -> None:
    assert anon_client.search_v1("busybox") is None


def test_progress_reports_reach_the_blob_size(anon_client: RegistryClient) -> None:
    data = random_bytes(2 * 1024 * 1024 + 5)
    seen: list[tuple[int, int | None]] = []
    digest = digest_of(data)
    anon_client.upload_blob("rt/progress", digest, len(data), opener(data), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(data), len(data))
    seen.clear()
    anon_client.fetch_blob("rt/progress", digest, io.BytesIO(), expected_size=len(data),
                           progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(data), len(data))


def test_parallel_transfers_share_one_client(anon_client: RegistryClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    blobs = [random_bytes(300_000 + i) for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda b: push_blob(anon_client, "rt/parallel", b), blobs))

        def fetch(data: bytes) -> bytes:
            sink = io.BytesIO()
            anon_client.fetch_blob("rt/parallel", digest_of(data), sink, expected_size=len(data))
            return sink.getvalue()

        assert list(pool.map(fetch, blobs)) == blobs


def test_skopeo_reads_an_image_lamina_pushed(anon_registry) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.fail("skopeo is not installed: run 'make test' as root (it installs Debian's skopeo)")
    layer, config, manifest, diff_id = tiny_image("skopeo")
    with make_client(anon_registry.host) as client:
        push_blob(client, "interop/tiny", layer)
        push_blob(client, "interop/tiny", config)
        digest = client.put_manifest("interop/tiny", "v1", manifest, DOCKER_MANIFEST)
    out = subprocess.run(
        [skopeo, "inspect", "--tls-verify=false", f"docker://{anon_registry.host}/interop/tiny:v1"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    inspected = json.loads(out.stdout)
    assert inspected["Digest"] == digest
    assert inspected["Layers"] == [digest_of(layer)]
    assert inspected["Architecture"] == "amd64" and inspected["Os"] == "linux"
    raw_config = subprocess.run(
        [skopeo, "inspect", "--config", "--raw", "--tls-verify=false", f"docker://{anon_registry.host}/interop/tiny:v1"],
        capture_output=True, check=True, timeout=60,
    ).stdout
    assert raw_config == config
    assert json.loads(raw_config)["rootfs"]["diff_ids"] == [diff_id]


def test_lamina_reads_an_image_skopeo_copied(anon_registry, tmp_path) -> None:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None
    layer, config, manifest, _ = tiny_image("copy")
    with make_client(anon_registry.host) as client:
        push_blob(client, "interop/src", layer)
        push_blob(client, "interop/src", config)
        client.put_manifest("interop/src", "v1", manifest, DOCKER_MANIFEST)
        subprocess.run(
            [skopeo, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--format", "oci",
             f"docker://{anon_registry.host}/interop/src:v1", f"docker://{anon_registry.host}/interop/dst:v1"],
            capture_output=True, check=True, timeout=60,
        )
        copied = client.get_manifest("interop/dst", "v1")
        assert copied.media_type == OCI_MANIFEST
        layer_digest = json.loads(copied.data)["layers"][0]["digest"]
        sink = io.BytesIO()
        client.fetch_blob("interop/dst", layer_digest, sink)
        assert digest_of(sink.getvalue()) == layer_digest
