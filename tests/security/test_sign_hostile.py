"""Hostile signature data in a registry: malformed attachment manifests, oversized or endless
layers, signed garbage payloads — each is one line, in bounded time, and nothing is stored."""

from __future__ import annotations

import base64
import json
import time

import pytest

from lamina.security.signing.attachments import OCI_MANIFEST, Attachment, append_attachment, attachment_tag
from lamina.security.signing.cosign import SIGNATURE_ANNOTATION
from lamina.security.signing.keys import generate_key_pair, load_private_key, sign_message
from lamina.security.signing.payload import SIMPLE_SIGNING_MEDIA_TYPE
from tests.registry.servers import make_client, tiny_image
from tests.security import sign_support
from tests.security.sign_support import push_tiny

sign_registry = sign_support.sign_registry
sign_scripted = sign_support.sign_scripted
PAIR = generate_key_pair("h")


@pytest.fixture
def pub(tmp_path):
    path = tmp_path / "cosign.pub"
    path.write_bytes(PAIR.public_pem)
    return path


CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
          "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}


@pytest.mark.parametrize("name, layers, message", [
    ("notlist", {"a": 1}, "attachment manifest has no list of layers"),
    ("huge", [{"mediaType": SIMPLE_SIGNING_MEDIA_TYPE, "size": 1 << 40,
               "digest": "sha256:" + "0" * 64}], "over the attachment limit"),
    ("endless", [{"mediaType": SIMPLE_SIGNING_MEDIA_TYPE, "size": 1, "digest": f"sha256:{n:064x}"}
                 for n in range(1001)], "over the limit of 1000"),
    ("nodigest", [{"mediaType": SIMPLE_SIGNING_MEDIA_TYPE}], "a layer without a digest or size"),
])
def test_malformed_signature_manifests_are_one_line(lamina, sign_scripted, pub, name, layers, message):
    """A scripted registry serves the image and a hostile .sig manifest (a real one refuses to store it)."""
    sign_scripted.reset()
    _layer, _config, manifest, _ = tiny_image(name)
    digest = sign_scripted.image("hostile/app", "v1", manifest, "application/vnd.docker.distribution.manifest.v2+json")
    hostile = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": CONFIG, "layers": layers}).encode()
    sign_scripted.image("hostile/app", attachment_tag(digest, "sig"), hostile, OCI_MANIFEST)
    started = time.monotonic()
    err = lamina.fails("verify", "--key", str(pub), f"{sign_scripted.host}/hostile/app:v1")
    assert message in err and time.monotonic() - started < 30
    assert not sign_scripted.requests("/blobs/")  # refused before any blob was fetched


@pytest.mark.parametrize("payload, message", [
    (b"not json at all", "not JSON"),
    (b'{"critical": {"identity": {}, "image": {}, "type": "cosign container image signature"}}', "must be strings"),
    (b'{"critical": {"identity": {"docker-reference": "x"}, "image": {"docker-manifest-digest": "sha256:0"},'
     b' "type": "something else"}}', "is not 'cosign container image signature'"),
    (b"{" * 100_000, "not JSON"),
])
def test_validly_signed_garbage_payloads_fail(lamina, sign_registry, pub, tmp_path, payload, message):
    host = sign_registry.host
    repository = f"hostile/payload{len(payload)}{payload[:3].hex()}"
    push_tiny(host, repository, "v1", repository)
    key = load_private_key(PAIR.private_pem, "h")
    signature = base64.b64encode(sign_message(key, payload)).decode()
    with make_client(host) as client:
        digest = client.head_manifest(repository, "v1").digest
        append_attachment(client, repository, digest, "sig",
                          Attachment(SIMPLE_SIGNING_MEDIA_TYPE, payload, {SIGNATURE_ANNOTATION: signature}))
    err = lamina.fails("verify", "--key", str(pub), f"{host}/{repository}:v1")
    assert message in err


def test_a_policy_with_garbage_signatures_refuses_and_stores_nothing(lamina, sign_registry, pub, tmp_path):
    from tests.conftest import store_listing

    host = sign_registry.host
    digest = push_tiny(host, "hostile/pulled", "v1", "hostile-pulled")
    with make_client(host) as client:
        append_attachment(client, "hostile/pulled", digest, "sig",
                          Attachment(SIMPLE_SIGNING_MEDIA_TYPE, b"{}", {SIGNATURE_ANNOTATION: "AAAA"}))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "sigstoreSigned", "keyPath": str(pub)}]}))
    err = lamina.fails("pull", "--policy", str(policy), f"{host}/hostile/pulled:v1")
    assert "signature does not verify" in err
    assert store_listing(lamina.root)["files"] == {}
