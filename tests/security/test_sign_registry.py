"""``lamina sign`` / ``lamina verify`` against real loopback registries (anonymous and token-auth).

The signature lamina stores is fetched by skopeo and checked by ``openssl dgst -verify`` on the
payload; tampering with the image manifest, the payload, the annotation or the tag makes verify
fail with one line; signatures append; a wrong password stores nothing."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from lamina.security.signing.attachments import OCI_MANIFEST, attachment_tag
from lamina.security.signing.keys import generate_key_pair
from tests.conftest import require_tool
from tests.registry.servers import Credential, make_client, push_blob
from tests.security import sign_support
from tests.security.sign_support import PASSWORD, USER, push_tiny

sign_registry = sign_support.sign_registry
sign_token_server = sign_support.sign_token_server
sign_token_registry = sign_support.sign_token_registry

PASS = "registry-test-pass"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    return sign_support.key_files(tmp_path_factory.mktemp("keys"), PASS)


@pytest.fixture
def signer(lamina, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", PASS)
    return lamina


def _sig_manifest(host: str, repository: str, digest: str, credential=None) -> dict:
    with make_client(host, credential) as client:
        return json.loads(client.get_manifest(repository, attachment_tag(digest, "sig"), [OCI_MANIFEST]).data)


def test_sign_then_verify_prints_the_payload(signer, sign_registry, keys):
    digest = push_tiny(sign_registry.host, "app/one", "v1", "one")
    image = f"{sign_registry.host}/app/one:v1"
    out = signer.out("sign", "--key", str(keys[0]), "-a", "team=core", image)
    assert f"sha256-{digest.split(':')[1]}.sig" in out
    payloads = json.loads(signer.out("verify", "--key", str(keys[1]), image))
    assert payloads == [{"critical": {"identity": {"docker-reference": image},
                                      "image": {"docker-manifest-digest": digest},
                                      "type": "cosign container image signature"},
                         "optional": {"team": "core"}}]
    manifest = _sig_manifest(sign_registry.host, "app/one", digest)
    assert manifest["mediaType"] == OCI_MANIFEST
    layer, = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert set(layer["annotations"]) == {"dev.cosignproject.cosign/signature"}


@pytest.mark.slow
def test_openssl_verifies_the_payload_skopeo_fetched(signer, sign_registry, keys, tmp_path):
    skopeo, openssl = require_tool("skopeo", "skopeo"), require_tool("openssl", "openssl")
    digest = push_tiny(sign_registry.host, "app/ossl", "v1", "ossl")
    signer.run("sign", "--key", str(keys[0]), f"{sign_registry.host}/app/ossl:v1")
    target = tmp_path / "sig"
    subprocess.run([skopeo, "copy", "--src-tls-verify=false",
                    f"docker://{sign_registry.host}/app/ossl:{attachment_tag(digest, 'sig')}", f"dir:{target}"],
                   check=True, capture_output=True)
    manifest = json.loads((target / "manifest.json").read_text())
    layer, = manifest["layers"]
    payload = target / layer["digest"].split(":")[1]
    (tmp_path / "sig.der").write_bytes(base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"]))
    result = subprocess.run([openssl, "dgst", "-sha256", "-verify", str(keys[1]), "-signature",
                             str(tmp_path / "sig.der"), str(payload)], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(payload.read_bytes())["critical"]["image"]["docker-manifest-digest"] == digest


def test_signatures_append_and_one_from_another_key_does_not_verify(signer, sign_registry, keys, tmp_path):
    other = generate_key_pair(PASS)
    (tmp_path / "other.key").write_bytes(other.private_pem)
    (tmp_path / "other.pub").write_bytes(other.public_pem)
    digest = push_tiny(sign_registry.host, "app/two", "v1", "two")
    image = f"{sign_registry.host}/app/two:v1"
    signer.run("sign", "--key", str(keys[0]), image)
    signer.run("sign", "--key", str(tmp_path / "other.key"), image)
    signer.run("sign", "--key", str(keys[0]), "-a", "round=2", image)
    assert len(_sig_manifest(sign_registry.host, "app/two", digest)["layers"]) == 3
    assert len(json.loads(signer.out("verify", "--key", str(keys[1]), image))) == 2
    assert len(json.loads(signer.out("verify", "--key", str(tmp_path / "other.pub"), image))) == 1
    both = json.loads(signer.out("verify", "--key", str(keys[1]), "--key", str(tmp_path / "other.pub"), image))
    assert len(both) == 3


def test_unsigned_image_fails_verify(signer, sign_registry, keys):
    push_tiny(sign_registry.host, "app/unsigned", "v1", "unsigned")
    err = signer.fails("verify", "--key", str(keys[1]), f"{sign_registry.host}/app/unsigned:v1")
    assert "no signatures found" in err


def test_tampered_image_manifest_fails(signer, sign_registry, keys):
    """The tag moves to another manifest and the old signature is copied to its .sig tag."""
    host = sign_registry.host
    old = push_tiny(host, "app/tm", "v1", "tm-1")
    signer.run("sign", "--key", str(keys[0]), f"{host}/app/tm:v1")
    new = push_tiny(host, "app/tm", "v1", "tm-2")
    with make_client(host) as client:
        sig = client.get_manifest("app/tm", attachment_tag(old, "sig"), [OCI_MANIFEST])
        client.put_manifest("app/tm", attachment_tag(new, "sig"), sig.data, OCI_MANIFEST)
    err = signer.fails("verify", "--key", str(keys[1]), f"{host}/app/tm:v1")
    assert f"payload signs {old}, the image is {new}" in err


def test_tampered_payload_fails(signer, sign_registry, keys):
    host = sign_registry.host
    digest = push_tiny(host, "app/tp", "v1", "tp")
    signer.run("sign", "--key", str(keys[0]), f"{host}/app/tp:v1")
    manifest = _sig_manifest(host, "app/tp", digest)
    layer = manifest["layers"][0]
    with make_client(host) as client:
        import io

        sink = io.BytesIO()
        client.fetch_blob("app/tp", layer["digest"], sink)
        forged = sink.getvalue().replace(b'"optional":null', b'"optional":{"forged":"yes"}')
        assert forged != sink.getvalue()
        layer["digest"], layer["size"] = push_blob(client, "app/tp", forged), len(forged)
        client.put_manifest("app/tp", attachment_tag(digest, "sig"), json.dumps(manifest).encode(), OCI_MANIFEST)
    err = signer.fails("verify", "--key", str(keys[1]), f"{host}/app/tp:v1")
    assert "signature does not verify with the given key" in err


def test_tampered_annotation_fails(signer, sign_registry, keys):
    host = sign_registry.host
    digest = push_tiny(host, "app/ta", "v1", "ta")
    signer.run("sign", "--key", str(keys[0]), f"{host}/app/ta:v1")
    manifest = _sig_manifest(host, "app/ta", digest)
    annotation = manifest["layers"][0]["annotations"]
    raw = bytearray(base64.b64decode(annotation["dev.cosignproject.cosign/signature"]))
    raw[-1] ^= 0x01
    annotation["dev.cosignproject.cosign/signature"] = base64.b64encode(bytes(raw)).decode()
    with make_client(host) as client:
        client.put_manifest("app/ta", attachment_tag(digest, "sig"), json.dumps(manifest).encode(), OCI_MANIFEST)
    err = signer.fails("verify", "--key", str(keys[1]), f"{host}/app/ta:v1")
    assert "signature does not verify" in err


def test_signature_moved_to_another_images_tag_fails(signer, sign_registry, keys):
    host = sign_registry.host
    signed = push_tiny(host, "app/tt", "signed", "tt-a")
    other = push_tiny(host, "app/tt", "other", "tt-b")
    signer.run("sign", "--key", str(keys[0]), f"{host}/app/tt:signed")
    with make_client(host) as client:
        sig = client.get_manifest("app/tt", attachment_tag(signed, "sig"), [OCI_MANIFEST])
        client.put_manifest("app/tt", attachment_tag(other, "sig"), sig.data, OCI_MANIFEST)
    err = signer.fails("verify", "--key", str(keys[1]), f"{host}/app/tt:other")
    assert f"payload signs {signed}" in err
    signer.run("verify", "--key", str(keys[1]), f"{host}/app/tt:signed")


def test_wrong_password_signs_nothing(lamina, sign_registry, keys, monkeypatch):
    digest = push_tiny(sign_registry.host, "app/wp", "v1", "wp")
    monkeypatch.setenv("COSIGN_PASSWORD", "not-the-password")
    err = lamina.fails("sign", "--key", str(keys[0]), f"{sign_registry.host}/app/wp:v1")
    assert "wrong password" in err and len(err.strip().splitlines()) == 1
    with make_client(sign_registry.host) as client:
        assert client.head_manifest("app/wp", attachment_tag(digest, "sig")) is None


def test_sign_and_verify_by_digest(signer, sign_registry, keys):
    digest = push_tiny(sign_registry.host, "app/dg", "v1", "dg")
    signer.run("sign", "--key", str(keys[0]), f"{sign_registry.host}/app/dg@{digest}")
    payload, = json.loads(signer.out("verify", "--key", str(keys[1]), f"{sign_registry.host}/app/dg:v1"))
    assert payload["critical"]["identity"]["docker-reference"] == f"{sign_registry.host}/app/dg"


def test_token_auth_registry_round_trip(signer, sign_registry, sign_token_registry, keys, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    host = sign_token_registry.host
    digest = push_tiny(host, "secure/app", "v1", "tok", Credential(USER, PASSWORD))
    image = f"{host}/secure/app:v1"
    signer.fails("verify", "--key", str(keys[1]), image)  # no credentials yet: one error line
    signer.run("login", "-u", USER, "--password-stdin", host, input=PASSWORD.encode())
    signer.run("sign", "--key", str(keys[0]), image)
    payload, = json.loads(signer.out("verify", "--key", str(keys[1]), image))
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest


def test_python_api_signs_and_verifies_through_a_token_registry(sign_token_registry):
    from lamina.security.signing import generate_key_pair as make_pair
    from lamina.security.signing import load_private_key, load_public_key, sign, verify

    host, credential = sign_token_registry.host, Credential(USER, PASSWORD)
    digest = push_tiny(host, "secure/api", "v1", "api", credential)
    pair = make_pair("api")
    with make_client(host, credential) as client:
        result = sign(f"{host}/secure/api:v1", load_private_key(pair.private_pem, "api"), annotations={"by": "api"},
                      registry=client)
        assert result.manifest_digest == digest and result.signature_tag == attachment_tag(digest, "sig")
        verified, = verify(f"{host}/secure/api:v1", [load_public_key(pair.public_pem)], registry=client)
    assert verified.payload.optional == {"by": "api"} and verified.payload.manifest_digest == digest


def test_signatures_and_attestations_travel_with_copy(signer, sign_registry, sign_token_registry, keys, tmp_path,
                                                      monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    source, target = f"{sign_registry.host}/app/travel:v1", f"{sign_token_registry.host}/moved/travel:v1"
    digest = push_tiny(sign_registry.host, "app/travel", "v1", "travel")
    signer.run("sign", "--key", str(keys[0]), source)
    (tmp_path / "p.json").write_text('{"reviewed": true}')
    signer.run("attest", "--key", str(keys[0]), "--predicate", str(tmp_path / "p.json"), source)
    signer.run("login", "-u", USER, "--password-stdin", sign_token_registry.host, input=PASSWORD.encode())
    assert digest in signer.out("copy", source, target)
    payload, = json.loads(signer.out("verify", "--key", str(keys[1]), target))
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest
    assert payload["critical"]["identity"]["docker-reference"] == source  # what was signed, not where it went
    signer.run("verify-attestation", "--key", str(keys[1]), target)
