"""Pulls from registries that lie, loop or answer garbage: one ``lamina: error:`` line naming the
reference, a non-zero exit, and a store exactly as before (``fsck`` clean).

The registry here is ``ScriptedRegistry``: it answers only what each test scripts.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest
from servers import Answer, ScriptedRegistry, digest_of, image_documents, make_client

from lamina.errors import RegistryError
from tests.conftest import Lamina, store_listing

pytestmark = pytest.mark.registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _layer(name: str = "hello.txt", size: int = 64) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return gzip.compress(raw.getvalue(), mtime=0)


def _serve_image(scripted: ScriptedRegistry, repository: str = "hostile/app", tag: str = "v1",
                 layers: list[bytes] | None = None, manifest_edit=None, config: bytes | None = None) -> str:
    """Script a one-layer image (``manifest_edit`` may change the manifest document); returns the ref."""
    layers = layers if layers is not None else [_layer()]
    config, manifest = image_documents(layers, config=config)
    if manifest_edit is not None:
        document = json.loads(manifest)
        manifest_edit(document)
        manifest = json.dumps(document).encode()
    blobs = {digest_of(blob): blob for blob in [*layers, config]}
    scripted.image(repository, tag, manifest, OCI_MANIFEST, blobs)
    return f"{scripted.host}/{repository}:{tag}"


def _refused(tmp_path, *args: str, name: str | None = None) -> str:
    """Run a pull that must fail; returns its one error line after checking the store is untouched."""
    store = Lamina(tmp_path / "store")
    store.out("images")  # the store exists before, so "as before" compares something
    before = store_listing(store.root)
    stderr = store.fails(*args)
    lines = [line for line in stderr.splitlines() if line.startswith("lamina: error:")]
    assert len(lines) == 1, stderr
    assert (name or args[-1]) in lines[0], lines[0]
    assert store_listing(store.root) == before
    assert "0 problems, clean" in store.out("fsck")
    return lines[0]


# -- sizes that lie ---------------------------------------------------------------------------------


def test_a_layer_larger_than_its_descriptor_says_is_refused(scripted, tmp_path):
    def shrink(document):
        document["layers"][0]["size"] -= 10

    ref = _serve_image(scripted, manifest_edit=shrink)
    line = _refused(tmp_path, "pull", ref)
    assert "larger than its announced size" in line


@pytest.mark.parametrize("extra", [100, 1 << 40])
def test_a_layer_smaller_than_its_descriptor_says_is_refused_at_once(scripted, tmp_path, extra):
    layer = _layer()

    def grow(document):
        document["layers"][0]["size"] += extra

    ref = _serve_image(scripted, layers=[layer], manifest_edit=grow)
    line = _refused(tmp_path, "pull", ref)
    # at once: one download of the layer, not five resumed ones with back-off (counted, not timed)
    assert len(scripted.requests(f"/blobs/{digest_of(layer)}")) == 1, scripted.requests("/blobs/")
    assert f"{len(layer)} bytes" in line and str(len(layer) + extra) in line


# -- manifests we cannot use ------------------------------------------------------------------------


def _index(*platforms: tuple[str, str]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "size": 10, "digest": digest_of(os.urandom(8)),
         "platform": {"os": os_name, "architecture": arch}} for os_name, arch in platforms]}).encode()


def test_an_index_without_this_platform_says_so_like_docker(scripted, tmp_path):
    scripted.image("hostile/multi", "v1", _index(("linux", "arm64"), ("windows", "amd64")), OCI_INDEX)
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/multi:v1")
    assert "no matching manifest for linux/amd64 in the manifest list entries" in line
    assert "linux/arm64" in line


def test_an_empty_index_says_so(scripted, tmp_path):
    scripted.image("hostile/multi", "empty", _index(), OCI_INDEX)
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/multi:empty")
    assert "no matching manifest for linux/amd64 in the manifest list entries" in line
    assert "available" not in line


@pytest.mark.parametrize("media_type", ["application/vnd.docker.distribution.manifest.v1+prettyjws",
                                        "application/vnd.docker.distribution.manifest.v1+json"])
def test_a_schema1_manifest_is_refused_in_one_line(scripted, tmp_path, media_type):
    schema1 = json.dumps({"schemaVersion": 1, "name": "hostile/old", "tag": "v1", "architecture": "amd64",
                          "fsLayers": [{"blobSum": digest_of(b"x")}], "history": [{"v1Compatibility": "{}"}]})
    scripted.image("hostile/old", "v1", schema1.encode(), media_type)
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/old:v1")
    assert "schema 1" in line


def test_a_manifest_of_an_unknown_media_type_is_refused(scripted, tmp_path):
    scripted.image("hostile/odd", "v1", b'{"schemaVersion": 2, "blobs": []}', "application/vnd.example.thing+json")
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/odd:v1")
    assert "application/vnd.example.thing+json" in line


def test_a_layer_of_an_unknown_media_type_is_refused(scripted, tmp_path):
    def odd(document):
        document["layers"][0]["mediaType"] = "application/vnd.example.layer"

    line = _refused(tmp_path, "pull", _serve_image(scripted, manifest_edit=odd))
    assert "unknown layer media type application/vnd.example.layer" in line


def test_an_artifact_that_is_not_an_image_is_refused(scripted, tmp_path):
    chart = json.dumps({"name": "mychart", "version": "1.0.0", "apiVersion": "v2"}).encode()

    def helm(document):
        document["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
        document["layers"][0]["mediaType"] = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

    line = _refused(tmp_path, "pull", _serve_image(scripted, config=chart, manifest_edit=helm))
    assert "application/vnd.cncf.helm.config.v1+json" in line


def test_a_config_that_is_not_json_is_refused(scripted, tmp_path):
    line = _refused(tmp_path, "pull", _serve_image(scripted, config=b"\x89PNG not json at all"))
    assert "config sha256:" in line


def test_a_huge_config_is_refused_before_it_is_fetched(scripted, tmp_path):
    def huge(document):
        document["config"]["size"] = 1 << 34

    ref = _serve_image(scripted, manifest_edit=huge)
    line = _refused(tmp_path, "pull", ref)
    assert "config" in line and "MiB" in line
    assert not scripted.requests(r"/blobs/")


def test_a_manifest_over_4_mib_is_refused(scripted, tmp_path):
    padding = {"annotations": {"x": "y" * (5 << 20)}}
    ref = _serve_image(scripted, manifest_edit=lambda document: document.update(padding))
    line = _refused(tmp_path, "pull", ref)
    assert "larger than 4 MiB" in line


# -- digests ------------------------------------------------------------------------------------------


def test_a_pull_by_digest_refuses_other_bytes(scripted, tmp_path):
    ref = _serve_image(scripted)
    wanted = digest_of(b"some other manifest")
    scripted.route("GET", rf"/v2/hostile/app/manifests/{wanted}",
                   Answer(200, _manifest_bytes(scripted, ref), {"Content-Type": OCI_MANIFEST}))
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/app@{wanted}")
    assert f"expected {wanted}" in line


def _manifest_bytes(scripted: ScriptedRegistry, ref: str) -> bytes:
    import urllib.request

    repository, tag = ref.split("/", 1)[1].rsplit(":", 1)
    request = urllib.request.Request(f"http://{scripted.host}/v2/{repository}/manifests/{tag}")
    with urllib.request.urlopen(request) as response:
        return response.read()


def test_a_tag_whose_digest_header_lies_is_refused(scripted, tmp_path):
    ref = _serve_image(scripted)
    body = _manifest_bytes(scripted, ref)
    lie = digest_of(body + b" ")
    scripted.route("GET", "/v2/hostile/app/manifests/v1",
                   Answer(200, body, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": lie}))
    line = _refused(tmp_path, "pull", ref)
    assert f"expected {lie}" in line


def test_sha512_content_is_pulled_and_verified(scripted, tmp_path):
    layer = _layer()
    layer_digest = "sha512:" + hashlib.sha512(layer).hexdigest()

    def sha512(document):
        document["layers"][0]["digest"] = layer_digest

    ref = _serve_image(scripted, layers=[layer], manifest_edit=sha512)
    scripted.blob("hostile/app", layer_digest, layer)
    store = Lamina(tmp_path / "store")
    assert "Pull complete" in store.out("pull", ref)
    assert "0 problems, clean" in store.out("fsck")


def test_sha512_content_that_does_not_match_is_refused(scripted, tmp_path):
    layer = _layer()
    layer_digest = "sha512:" + hashlib.sha512(layer + b"x").hexdigest()

    def sha512(document):
        document["layers"][0]["digest"] = layer_digest

    ref = _serve_image(scripted, layers=[layer], manifest_edit=sha512)
    scripted.blob("hostile/app", layer_digest, layer)
    line = _refused(tmp_path, "pull", ref)
    assert "does not match its digest" in line


def test_an_unknown_digest_algorithm_is_refused(scripted, tmp_path):
    def md5(document):
        document["layers"][0]["digest"] = "md5:" + hashlib.md5(b"x").hexdigest()

    line = _refused(tmp_path, "pull", _serve_image(scripted, manifest_edit=md5))
    assert "md5" in line


# -- answers that are not the API's ---------------------------------------------------------------------


def _html(status: int) -> Answer:
    page = b"<html><head><title>Oops</title></head>\n<body><h1>Something broke</h1>\n<p>try later</p></body></html>"
    return Answer(status, page, {"Content-Type": "text/html"})


@pytest.mark.parametrize("status", [400, 404, 403])
def test_an_html_error_page_gives_one_line(scripted, tmp_path, status):
    scripted.route("GET", "/v2/hostile/html/manifests/v1", _html(status))
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/html:v1")
    assert "<html" not in line


def test_an_html_page_with_status_200_instead_of_a_manifest_is_refused(scripted, tmp_path):
    scripted.route("GET", "/v2/hostile/html/manifests/v1", _html(200))
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/html:v1")
    assert "text/html" in line


def test_a_401_without_a_challenge_is_an_authentication_error(scripted, tmp_path):
    scripted.route("GET", "/v2/hostile/private/manifests/v1", Answer(401, b"", {}))
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/private:v1")
    assert "login" in line or "unauthorized" in line


@pytest.mark.parametrize("token_answer", [
    Answer(200, b"<html>not json</html>", {"Content-Type": "text/html"}),
    Answer(200, b'{"expires_in": 300}', {"Content-Type": "application/json"}),
    Answer(200, b'{"token": "abc\\r\\nX-Injected: yes"}', {"Content-Type": "application/json"}),
    Answer(200, b'{"token": 12345}', {"Content-Type": "application/json"}),
    Answer(500, b"", {}),
])
def test_a_token_server_answering_garbage_gives_one_line(scripted, tmp_path, token_answer):
    challenge = f'Bearer realm="http://{scripted.host}/token",service="scripted"'
    scripted.route("GET", "/v2/", Answer(401, b"", {"WWW-Authenticate": challenge}))
    scripted.route("GET", "/token", token_answer)
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/private:v1")
    assert "token" in line


# -- loops --------------------------------------------------------------------------------------------------


def test_a_redirect_loop_on_a_blob_ends(scripted, tmp_path):
    ref = _serve_image(scripted)
    scripted.route("GET", r"/v2/hostile/app/blobs/.*",
                   lambda target: Answer(307, b"", {"Location": target}))
    line = _refused(tmp_path, "pull", ref)
    assert "redirected" in line


def test_a_redirect_loop_on_a_manifest_ends(scripted, tmp_path):
    scripted.route("GET", "/v2/hostile/loop/manifests/v1",
                   Answer(307, b"", {"Location": "/v2/hostile/loop/manifests/v1"}))
    line = _refused(tmp_path, "pull", f"{scripted.host}/hostile/loop:v1")
    assert "redirected" in line


def test_a_manifest_behind_a_redirect_is_pulled(scripted, tmp_path):
    ref = _serve_image(scripted)
    body = _manifest_bytes(scripted, ref)
    scripted.route("GET", "/v2/hostile/moved/manifests/v1",
                   Answer(307, b"", {"Location": "/v2/hostile/app/manifests/v1"}))
    scripted.route("GET", r"/v2/hostile/moved/blobs/(.*)",
                   lambda target: Answer(307, b"", {"Location": target.replace("/moved/", "/app/")}))
    store = Lamina(tmp_path / "store")
    assert "Pull complete" in store.out("pull", f"{scripted.host}/hostile/moved:v1")
    assert digest_of(body) in store.out("images", "--digests")


def test_tags_pagination_that_links_to_itself_ends(scripted, tmp_path):
    scripted.route("GET", "/v2/hostile/app/tags/list",
                   Answer(200, b'{"name": "hostile/app", "tags": ["v1"]}',
                          {"Content-Type": "application/json", "Link": '</v2/hostile/app/tags/list?n=1&last=v1>; rel="next"'}))
    line = _refused(tmp_path, "pull", "--all-tags", f"{scripted.host}/hostile/app", name=f"{scripted.host}/hostile/app")
    assert "paginat" in line


def test_endless_tags_pagination_ends(scripted):
    def page(target: str) -> Answer:
        number = int(target.rsplit("last=t", 1)[1]) + 1 if "last=t" in target else 0
        body = json.dumps({"name": "hostile/app", "tags": [f"t{number}"]}).encode()
        return Answer(200, body, {"Content-Type": "application/json",
                                  "Link": f'</v2/hostile/app/tags/list?n=1&last=t{number}>; rel="next"'})

    scripted.route("GET", "/v2/hostile/app/tags/list", page)
    with make_client(scripted.host) as client:
        client.max_pages = 50
        with pytest.raises(RegistryError, match="keeps paginating .* after 50 pages"):
            client.list_tags("hostile/app")
    assert len(scripted.requests("/tags/list")) == 50


@pytest.mark.parametrize("tags", [["v1", "../../../v2/other/manifests/x"], ["v1", "a/b"], "v1", [1, 2]])
def test_a_tags_list_with_names_that_are_no_tags_is_refused(scripted, tmp_path, tags):
    body = json.dumps({"name": "hostile/app", "tags": tags}).encode()
    scripted.route("GET", "/v2/hostile/app/tags/list", Answer(200, body, {"Content-Type": "application/json"}))
    _serve_image(scripted)
    line = _refused(tmp_path, "pull", "--all-tags", f"{scripted.host}/hostile/app", name=f"{scripted.host}/hostile/app")
    assert "tag" in line
    assert not scripted.requests("/manifests/")
