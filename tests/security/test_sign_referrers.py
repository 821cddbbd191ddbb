"""The OCI 1.1 referrers API: a registry that answers ``GET /v2/<name>/referrers/<digest>`` with an
index gets each signature also as a manifest with a ``subject`` (and cosign's ``artifactType``),
and verify reads the referrers first. Debian's registry 2.8 has no such API, so a scripted
loopback registry plays one (it keeps what is pushed, for the assertions); openssl checks the
pushed signature over the pushed payload; a referrer about another image or with a forged
signature does not verify; a registry without the API is served by the tag alone."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from lamina.errors import SignatureError
from lamina.security.signing.cosign import sign, verify
from lamina.security.signing.keys import generate_key_pair, load_private_key, load_public_key
from lamina.security.signing.referrers import ARTIFACT_TYPES, OCI_INDEX
from tests.conftest import require_tool
from tests.registry.servers import Answer, ScriptedRegistry, image_documents, make_client

REPO = "ref/app"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class KeepingRegistry(ScriptedRegistry):
    """The scripted registry, also keeping the body of every PATCH/PUT (uploads and manifests)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str, bytes]] = []
        super().__init__()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self
        base = super()._handler()

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command in ("PATCH", "PUT"):
                    with registry.lock:
                        registry.bodies.append((self.command, self.path, body))
                answer = registry._answer(self.command, self.path)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in answer.headers:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        return Handler

    def put_bodies(self, pattern: str) -> list[bytes]:
        with self.lock:
            return [body for method, path, body in self.bodies if method == "PUT" and re.search(pattern, path)]

    def blob_bodies(self) -> list[bytes]:
        with self.lock:
            return [body for method, path, body in self.bodies if method == "PATCH"]


@pytest.fixture(scope="module")
def registry() -> Iterator[KeepingRegistry]:
    server = KeepingRegistry().start()
    yield server
    server.stop()


@pytest.fixture
def scripted(registry: KeepingRegistry) -> KeepingRegistry:
    registry.reset()
    with registry.lock:
        registry.bodies.clear()
    return registry


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[object, object, Path]:
    pair = generate_key_pair("referrers")
    public = tmp_path_factory.mktemp("referrer-keys") / "cosign.pub"
    public.write_bytes(pair.public_pem)
    return load_private_key(pair.private_pem, "referrers"), load_public_key(pair.public_pem), public


def _serve_image(scripted: KeepingRegistry, seed: str) -> str:
    layer = gzip.compress(seed.encode(), mtime=0)
    config, manifest = image_documents([layer], diff_ids=["sha256:" + hashlib.sha256(seed.encode()).hexdigest()])
    return scripted.image(REPO, "v1", manifest, OCI_MANIFEST,
                          {"sha256:" + hashlib.sha256(b).hexdigest(): b for b in (layer, config)})


def _accept_pushes(scripted: KeepingRegistry, referrers: list[dict] | None) -> None:
    location = f"/v2/{REPO}/blobs/uploads/u1"
    scripted.route("POST", f"/v2/{REPO}/blobs/uploads/", Answer(202, b"", {"Location": location, "Range": "0-0"}))
    scripted.route("PATCH", location, Answer(202, b"", {"Location": location}))
    scripted.route("PUT", location, lambda target: Answer(201, b"", {
        "Docker-Content-Digest": re.search(r"digest=([^&]+)", target).group(1).replace("%3A", ":")}))
    scripted.route("PUT", f"/v2/{REPO}/manifests/.*", Answer(201, b""))
    if referrers is not None:
        scripted.route("GET", f"/v2/{REPO}/referrers/.*", Answer(200, json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": referrers}).encode(),
            {"Content-Type": OCI_INDEX}))


def _referrer_of(scripted: KeepingRegistry, subject: str) -> tuple[bytes, dict]:
    for body in scripted.put_bodies(r"/manifests/sha256:"):
        document = json.loads(body)
        if document.get("subject", {}).get("digest") == subject:
            return body, document
    raise AssertionError("no manifest with a subject was pushed")


def test_sign_pushes_a_referrer_with_subject_where_the_api_exists(scripted, keys, tmp_path):
    openssl = require_tool("openssl", "openssl")
    digest = _serve_image(scripted, "referrers-sign")
    _accept_pushes(scripted, referrers=[])
    with make_client(scripted.host) as client:
        sign(f"{scripted.host}/{REPO}:v1", keys[0], registry=client)
    body, document = _referrer_of(scripted, digest)
    assert document["artifactType"] == ARTIFACT_TYPES["sig"]
    assert document["subject"]["mediaType"] == OCI_MANIFEST
    assert document["config"] == {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                                  "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest()}
    layer = document["layers"][0]
    payload = next(b for b in scripted.blob_bodies() if "sha256:" + hashlib.sha256(b).hexdigest() == layer["digest"])
    (tmp_path / "payload").write_bytes(payload)
    (tmp_path / "sig").write_bytes(base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"]))
    checked = subprocess.run([openssl, "dgst", "-sha256", "-verify", str(keys[2]), "-signature", str(tmp_path / "sig"),
                              str(tmp_path / "payload")], capture_output=True)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(payload)["critical"]["image"]["docker-manifest-digest"] == digest
    # the tag scheme is written too (cosign's default reader)
    assert scripted.put_bodies(rf"/manifests/sha256-{digest[7:]}\.sig")


def test_no_referrers_api_means_the_tag_alone(scripted, keys):
    digest = _serve_image(scripted, "referrers-none")
    _accept_pushes(scripted, referrers=None)  # GET .../referrers/... answers 404, as distribution 2.8
    with make_client(scripted.host) as client:
        sign(f"{scripted.host}/{REPO}:v1", keys[0], registry=client)
    assert scripted.put_bodies(rf"/manifests/sha256-{digest[7:]}\.sig")
    assert not scripted.put_bodies(r"/manifests/sha256:")


def _serve_referrer(scripted: KeepingRegistry, manifest: bytes, blobs: list[bytes]) -> dict:
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}
    for method in ("GET", "HEAD"):
        scripted.route(method, f"/v2/{REPO}/manifests/{re.escape(digest)}", Answer(200, manifest, headers))
    for blob in blobs:
        scripted.blob(REPO, "sha256:" + hashlib.sha256(blob).hexdigest(), blob)
    return {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest), "artifactType": ARTIFACT_TYPES["sig"]}


def _signed_referrer(scripted: KeepingRegistry, keys, seed: str) -> tuple[str, bytes, list[bytes]]:
    """Sign an image once against the scripted registry; returns (digest, referrer manifest, its blobs)."""
    digest = _serve_image(scripted, seed)
    _accept_pushes(scripted, referrers=[])
    with make_client(scripted.host) as client:
        sign(f"{scripted.host}/{REPO}:v1", keys[0], registry=client)
    body, _ = _referrer_of(scripted, digest)
    return digest, body, scripted.blob_bodies()


def test_verify_reads_the_referrers_first(scripted, keys):
    digest, manifest, blobs = _signed_referrer(scripted, keys, "referrers-verify")
    scripted.reset()  # a registry with only the referrer: no .sig tag at all
    _serve_image(scripted, "referrers-verify")
    _accept_pushes(scripted, referrers=[_serve_referrer(scripted, manifest, blobs)])
    with make_client(scripted.host) as client:
        verified = verify(f"{scripted.host}/{REPO}:v1", [keys[1]], registry=client)
    assert [item.payload.manifest_digest for item in verified] == [digest]
    assert scripted.requests(f"/referrers/{re.escape(digest)}")


def test_forged_or_foreign_referrers_do_not_verify(scripted, keys):
    digest, manifest, blobs = _signed_referrer(scripted, keys, "referrers-forged")
    document = json.loads(manifest)
    document["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = base64.b64encode(b"\x30\x06" + b"\0" * 6).decode()
    forged = json.dumps(document).encode()
    foreign = json.loads(manifest)
    foreign["subject"]["digest"] = "sha256:" + "0" * 64
    scripted.reset()
    _serve_image(scripted, "referrers-forged")
    _accept_pushes(scripted, referrers=[_serve_referrer(scripted, forged, blobs),
                                        _serve_referrer(scripted, json.dumps(foreign).encode(), blobs)])
    with make_client(scripted.host) as client, pytest.raises(SignatureError, match="no valid signature"):
        verify(f"{scripted.host}/{REPO}:v1", [keys[1]], registry=client)
    assert digest
