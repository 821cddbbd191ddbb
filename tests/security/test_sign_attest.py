"""``lamina attest`` / ``lamina verify-attestation`` against a loopback registry: an SBOM lamina
made about the image round-trips in a DSSE envelope under ``.att``; openssl checks the envelope's
signature over DSSE's pre-authentication encoding; wrong key, wrong type and a tampered envelope
fail with one line."""

from __future__ import annotations

import base64
import io
import json
import subprocess
from pathlib import Path

import pytest

from lamina.security.signing.attachments import OCI_MANIFEST, attachment_tag
from lamina.security.signing.keys import generate_key_pair
from tests.conftest import require_tool
from tests.registry.servers import make_client, push_blob
from tests.security import sign_support
from tests.security.sign_support import push_tiny

sign_registry = sign_support.sign_registry
PASS = "attest-pass"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    return sign_support.key_files(tmp_path_factory.mktemp("attest-keys"), PASS)


@pytest.fixture
def cli(lamina, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", PASS)
    return lamina


def _statement(envelope_line: str) -> dict:
    return json.loads(base64.b64decode(json.loads(envelope_line)["payload"]))


def test_sbom_attestation_round_trips(cli, sign_registry, keys, tmp_path):
    image = f"{sign_registry.host}/att/sbom:v1"
    digest = push_tiny(sign_registry.host, "att/sbom", "v1", "att-sbom")
    sbom = tmp_path / "sbom.json"
    sbom.write_bytes(cli.run("sbom", "--format", "cyclonedx-json", image).stdout)
    cli.run("attest", "--key", str(keys[0]), "--type", "cyclonedx", "--predicate", str(sbom), image)
    line, = cli.out("verify-attestation", "--key", str(keys[1]), "--type", "cyclonedx", image).splitlines()
    statement = _statement(line)
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    assert statement["predicateType"] == "https://cyclonedx.org/bom"
    assert statement["subject"] == [{"name": f"{sign_registry.host}/att/sbom", "digest": {"sha256": digest[7:]}}]
    assert statement["predicate"] == json.loads(sbom.read_bytes())


def test_openssl_verifies_the_envelope_over_dsse_pae(cli, sign_registry, keys, tmp_path):
    openssl = require_tool("openssl", "openssl")
    image = f"{sign_registry.host}/att/pae:v1"
    push_tiny(sign_registry.host, "att/pae", "v1", "att-pae")
    predicate = tmp_path / "prov.json"
    predicate.write_text(json.dumps({"builder": {"id": "https://example.invalid/lamina"}, "buildType": "test"}))
    cli.run("attest", "--key", str(keys[0]), "--type", "slsaprovenance", "--predicate", str(predicate), image)
    line, = cli.out("verify-attestation", "--key", str(keys[1]), image).splitlines()
    envelope = json.loads(line)
    body = base64.b64decode(envelope["payload"])
    payload_type = envelope["payloadType"].encode()
    # DSSE v1 PAE, written from the spec: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
    (tmp_path / "pae").write_bytes(b" ".join([b"DSSEv1", str(len(payload_type)).encode(), payload_type,
                                              str(len(body)).encode(), body]))
    (tmp_path / "sig").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    result = subprocess.run([openssl, "dgst", "-sha256", "-verify", str(keys[1]), "-signature", str(tmp_path / "sig"),
                             str(tmp_path / "pae")], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert _statement(line)["predicateType"] == "https://slsa.dev/provenance/v0.2"


def test_wrong_key_and_wrong_type_fail(cli, sign_registry, keys, tmp_path):
    image = f"{sign_registry.host}/att/neg:v1"
    push_tiny(sign_registry.host, "att/neg", "v1", "att-neg")
    predicate = tmp_path / "p.json"
    predicate.write_text('{"hello": "world"}')
    cli.run("attest", "--key", str(keys[0]), "--predicate", str(predicate), image)
    other = generate_key_pair("x")
    (tmp_path / "other.pub").write_bytes(other.public_pem)
    assert "signature does not verify" in cli.fails("verify-attestation", "--key", str(tmp_path / "other.pub"), image)
    assert "is not https://cyclonedx.org/bom" in cli.fails("verify-attestation", "--key", str(keys[1]), "--type",
                                                           "cyclonedx", image)
    cli.run("verify-attestation", "--key", str(keys[1]), "--type", "custom", image)


def test_tampered_statement_fails(cli, sign_registry, keys, tmp_path):
    host = sign_registry.host
    digest = push_tiny(host, "att/tamper", "v1", "att-tamper")
    predicate = tmp_path / "p.json"
    predicate.write_text('{"approved": false}')
    cli.run("attest", "--key", str(keys[0]), "--predicate", str(predicate), f"{host}/att/tamper:v1")
    tag = attachment_tag(digest, "att")
    with make_client(host) as client:
        manifest = json.loads(client.get_manifest("att/tamper", tag, [OCI_MANIFEST]).data)
        layer = manifest["layers"][0]
        sink = io.BytesIO()
        client.fetch_blob("att/tamper", layer["digest"], sink)
        envelope = json.loads(sink.getvalue())
        statement = base64.b64decode(envelope["payload"]).replace(b'"approved":false', b'"approved":true')
        envelope["payload"] = base64.b64encode(statement).decode()
        forged = json.dumps(envelope).encode()
        layer["digest"], layer["size"] = push_blob(client, "att/tamper", forged), len(forged)
        client.put_manifest("att/tamper", tag, json.dumps(manifest).encode(), OCI_MANIFEST)
    err = cli.fails("verify-attestation", "--key", str(keys[1]), f"{host}/att/tamper:v1")
    assert "signature does not verify" in err


def test_no_attestation_and_bad_predicate_are_one_line(cli, sign_registry, keys, tmp_path):
    image = f"{sign_registry.host}/att/none:v1"
    push_tiny(sign_registry.host, "att/none", "v1", "att-none")
    assert "no attestations found" in cli.fails("verify-attestation", "--key", str(keys[1]), image)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "predicate is not JSON" in cli.fails("attest", "--key", str(keys[0]), "--predicate", str(bad), image)
    good = tmp_path / "ok.json"
    good.write_text("{}")
    assert "unknown attestation type 'nope'" in cli.fails("attest", "--key", str(keys[0]), "--type", "nope",
                                                          "--predicate", str(good), image)
