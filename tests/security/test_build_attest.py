"""``lamina build --sbom --provenance [--attest-key K]``: the attestations are kept with the built
image, ``push`` carries them to a loopback docker-registry as cosign's ``.att`` and
``verify-attestation`` checks them there; openssl verifies the DSSE signature; skopeo sees the
pushed manifest the statements name; unsigned ones and a wrong key fail with one line."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from lamina.security.signing.keys import generate_key_pair
from tests.conftest import require_tool
from tests.security import sign_support

sign_registry = sign_support.sign_registry
PASS = "build-attest-pass"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    return sign_support.key_files(tmp_path_factory.mktemp("build-attest-keys"), PASS)


@pytest.fixture
def cli(lamina, monkeypatch, imported_busybox):
    monkeypatch.setenv("COSIGN_PASSWORD", PASS)
    return lamina


def _context(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "hello.txt").write_text("hello attestations\n")
    (context / "Dockerfile").write_text("FROM busybox:latest\nARG GREETING=hi\nCOPY hello.txt /hello.txt\n"
                                        "LABEL greeting=$GREETING\n")
    return context


def _statements(output: str) -> dict[str, dict]:
    result = {}
    for line in output.splitlines():
        statement = json.loads(base64.b64decode(json.loads(line)["payload"]))
        result[statement["predicateType"]] = statement
    return result


def _skopeo_digest(image: str) -> str:
    skopeo = require_tool("skopeo", "skopeo")
    raw = subprocess.run([skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{image}"],
                         capture_output=True, check=True).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def test_signed_sbom_and_provenance_travel_with_push(cli, sign_registry, keys, tmp_path):
    context = _context(tmp_path)
    image = f"{sign_registry.host}/battest/app:v1"
    cli.run("build", "--sbom", "--provenance", "--attest-key", str(keys[0]), "--build-arg", "GREETING=hey",
            "-t", image, str(context))
    pushed = cli.out("push", image)
    assert ".att" in pushed
    digest = _skopeo_digest(image)
    assert f"digest: {digest}" in pushed
    statements = _statements(cli.out("verify-attestation", "--key", str(keys[1]), image))
    assert set(statements) == {"https://cyclonedx.org/bom", "https://slsa.dev/provenance/v0.2"}
    for statement in statements.values():
        assert statement["subject"] == [{"name": f"{sign_registry.host}/battest/app", "digest": {"sha256": digest[7:]}}]
    sbom = statements["https://cyclonedx.org/bom"]["predicate"]
    assert sbom["bomFormat"] == "CycloneDX"
    provenance = statements["https://slsa.dev/provenance/v0.2"]["predicate"]
    dockerfile_digest = hashlib.sha256((context / "Dockerfile").read_bytes()).hexdigest()
    assert provenance["invocation"]["configSource"]["digest"] == {"sha256": dockerfile_digest}
    assert provenance["invocation"]["parameters"]["args"] == {"build-arg:GREETING": "hey"}
    base_id = cli.out("image", "inspect", "--format", "{{.Id}}", "busybox:latest").strip()
    assert {"uri": "pkg:docker/busybox:latest", "digest": {"sha256": base_id[7:]}} in provenance["materials"]
    assert provenance["materials"][-1]["uri"].startswith("file://")
    # the predicate types can be asked for one at a time
    only = _statements(cli.out("verify-attestation", "--key", str(keys[1]), "--type", "slsaprovenance", image))
    assert set(only) == {"https://slsa.dev/provenance/v0.2"}


def test_openssl_verifies_the_built_attestation(cli, sign_registry, keys, tmp_path):
    openssl = require_tool("openssl", "openssl")
    image = f"{sign_registry.host}/battest/ossl:v1"
    cli.run("build", "--provenance", "--attest-key", str(keys[0]), "-t", image, str(_context(tmp_path)))
    cli.run("push", image)
    envelope = json.loads(cli.out("verify-attestation", "--key", str(keys[1]), image).splitlines()[0])
    body = base64.b64decode(envelope["payload"])
    payload_type = envelope["payloadType"].encode()
    (tmp_path / "pae").write_bytes(b" ".join([b"DSSEv1", str(len(payload_type)).encode(), payload_type,
                                              str(len(body)).encode(), body]))
    (tmp_path / "sig").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    result = subprocess.run([openssl, "dgst", "-sha256", "-verify", str(keys[1]), "-signature",
                             str(tmp_path / "sig"), str(tmp_path / "pae")], capture_output=True)
    assert result.returncode == 0, result.stderr
    (tmp_path / "pae").write_bytes((tmp_path / "pae").read_bytes().replace(b"ossl", b"0ssl"))
    tampered = subprocess.run([openssl, "dgst", "-sha256", "-verify", str(keys[1]), "-signature",
                               str(tmp_path / "sig"), str(tmp_path / "pae")], capture_output=True)
    assert tampered.returncode != 0


def test_unsigned_attestations_and_wrong_key_are_refused(cli, sign_registry, keys, tmp_path):
    image = f"{sign_registry.host}/battest/unsigned:v1"
    cli.run("build", "--sbom", "-t", image, str(_context(tmp_path)))
    cli.run("push", image)
    assert "signature does not verify" in cli.fails("verify-attestation", "--key", str(keys[1]), image)
    other = generate_key_pair("other")
    (tmp_path / "other.pub").write_bytes(other.public_pem)
    signed = f"{sign_registry.host}/battest/signed:v1"
    cli.run("build", "--sbom", "--attest-key", str(keys[0]), "-t", signed, str(tmp_path / "ctx"))
    cli.run("push", signed)
    assert "no valid attestation" in cli.fails("verify-attestation", "--key", str(tmp_path / "other.pub"), signed)


def test_attest_key_without_sbom_or_provenance_is_a_usage_error(cli, keys, tmp_path):
    result = cli.run("build", "--attest-key", str(keys[0]), str(_context(tmp_path)), check=False)
    assert result.returncode != 0
    assert b"--attest-key needs --sbom or --provenance" in result.stderr


def test_a_rebuild_replaces_its_attestations(cli, sign_registry, keys, tmp_path):
    image = f"{sign_registry.host}/battest/rebuild:v1"
    context = _context(tmp_path)
    for value in ("first", "second"):  # an undeclared build arg: the same image, another provenance
        cli.run("build", "--provenance", "--attest-key", str(keys[0]), "--build-arg", f"UNUSED={value}",
                "-t", image, str(context))
    cli.run("push", image)
    lines = cli.out("verify-attestation", "--key", str(keys[1]), image).splitlines()
    assert len(lines) == 1
    assert _statements(lines[0])["https://slsa.dev/provenance/v0.2"]["predicate"]["invocation"]["parameters"][
        "args"]["build-arg:UNUSED"] == "second"
