"""Keys in cosign's formats: a key cosign generated decrypts to its committed public key, lamina's
keys have cosign's layout and round-trip, openssl reads and checks what lamina writes, and bad
keys or passwords are one-line errors."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from lamina.errors import SignatureError
from lamina.security.signing.keys import (
    encrypt_private_key,
    generate_key_pair,
    load_private_key,
    load_public_key,
    public_key_pem,
    sign_message,
    verify_message,
)
from tests.conftest import require_tool
from tests.security.sign_support import COSIGN_DATA


def _sealed_document(pem: bytes) -> dict:
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    return json.loads(base64.b64decode(body))


def test_a_key_cosign_generated_decrypts_to_its_public_key():
    key = load_private_key((COSIGN_DATA / "cosign-generated.key").read_bytes(), "")
    assert public_key_pem(key.public_key()) == (COSIGN_DATA / "cosign-generated.pub").read_bytes()


def test_generated_keys_have_cosigns_sealed_layout():
    pair = generate_key_pair("pw")
    assert pair.private_pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    ours, cosigns = _sealed_document(pair.private_pem), _sealed_document(
        (COSIGN_DATA / "cosign-generated.key").read_bytes())
    assert set(ours) == set(cosigns) == {"kdf", "cipher", "ciphertext"}
    assert set(ours["kdf"]) == set(cosigns["kdf"]) and set(ours["kdf"]["params"]) == {"N", "r", "p"}
    assert ours["kdf"]["name"] == cosigns["kdf"]["name"] == "scrypt"
    assert ours["cipher"]["name"] == cosigns["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(ours["cipher"]["nonce"])) == len(base64.b64decode(cosigns["cipher"]["nonce"])) == 24
    assert len(base64.b64decode(ours["kdf"]["salt"])) == len(base64.b64decode(cosigns["kdf"]["salt"])) == 32


def test_generated_key_round_trips_and_signs():
    pair = generate_key_pair("correct horse")
    key = load_private_key(pair.private_pem, "correct horse")
    public = load_public_key(pair.public_pem)
    signature = sign_message(key, b"payload")
    assert verify_message(public, signature, b"payload")
    assert not verify_message(public, signature, b"payloaD")


def test_wrong_password_is_one_line():
    pair = generate_key_pair("right")
    with pytest.raises(SignatureError, match="wrong password") as info:
        load_private_key(pair.private_pem, "wrong", where="cosign.key")
    assert "\n" not in str(info.value) and str(info.value).startswith("cosign.key: ")


def test_encrypted_key_without_password_is_refused():
    with pytest.raises(SignatureError, match="needs a password"):
        load_private_key(generate_key_pair("x").private_pem, None)


def test_hostile_scrypt_cost_is_refused_at_once():
    pem = (COSIGN_DATA / "cosign-generated.key").read_bytes()
    document = _sealed_document(pem)
    document["kdf"]["params"]["N"] = 1 << 30
    body = base64.b64encode(json.dumps(document).encode()).decode()
    hostile = f"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{body}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    started = time.monotonic()
    with pytest.raises(SignatureError, match="out of bounds"):
        load_private_key(hostile.encode(), "")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("garbage", [b"", b"not a key", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                                     b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n"
                                     b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"])
def test_garbage_keys_are_one_line_errors(garbage):
    for load in (lambda: load_private_key(garbage, "x"), lambda: load_public_key(garbage)):
        with pytest.raises(SignatureError) as info:
            load()
        assert "\n" not in str(info.value)


def test_plain_pem_keys_from_openssl_load_and_openssl_verifies(tmp_path: Path):
    openssl = require_tool("openssl", "openssl")
    pkcs8, sec1 = tmp_path / "pkcs8.pem", tmp_path / "sec1.pem"
    subprocess.run([openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(pkcs8)],
                   check=True, capture_output=True)
    subprocess.run([openssl, "ec", "-in", str(pkcs8), "-out", str(sec1)], check=True, capture_output=True)
    public = tmp_path / "pub.pem"
    subprocess.run([openssl, "pkey", "-in", str(pkcs8), "-pubout", "-out", str(public)], check=True, capture_output=True)
    for path in (pkcs8, sec1):
        key = load_private_key(path.read_bytes(), None)
        assert public_key_pem(key.public_key()) == public.read_bytes()
    message = tmp_path / "message"
    message.write_bytes(b"signed by lamina, checked by openssl")
    signature = tmp_path / "sig.der"
    signature.write_bytes(sign_message(load_private_key(pkcs8.read_bytes(), None), message.read_bytes()))
    result = subprocess.run([openssl, "dgst", "-sha256", "-verify", str(public), "-signature", str(signature),
                             str(message)], capture_output=True)
    assert result.returncode == 0 and b"Verified OK" in result.stdout


def test_openssl_reads_the_sealed_keys_public_half_and_lamina_reads_back(tmp_path: Path):
    openssl = require_tool("openssl", "openssl")
    subprocess.run([openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", str(tmp_path / "k.pem")], check=True, capture_output=True)
    key = load_private_key((tmp_path / "k.pem").read_bytes(), None)
    sealed = encrypt_private_key(key, "pw")
    again = load_private_key(sealed, "pw")
    expected = subprocess.run([openssl, "pkey", "-in", str(tmp_path / "k.pem"), "-pubout"],
                              check=True, capture_output=True).stdout
    assert public_key_pem(again.public_key()) == expected


def test_cli_generate_key_pair_writes_private_key_0600_and_refuses_overwrite(lamina, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "cli-pass")
    monkeypatch.chdir(tmp_path)
    lamina.run("generate-key-pair")
    key, pub = tmp_path / "cosign.key", tmp_path / "cosign.pub"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    loaded = load_private_key(key.read_bytes(), "cli-pass")
    assert public_key_pem(loaded.public_key()) == pub.read_bytes()
    assert "exists" in lamina.fails("generate-key-pair")
    lamina.run("generate-key-pair", "--output-key-prefix", str(tmp_path / "other"))
    assert (tmp_path / "other.key").exists() and (tmp_path / "other.pub").read_bytes() != pub.read_bytes()
