"""Signing keys in cosign's formats: its encrypted private key, PEM public keys, plain PEM keys.

cosign keeps a private key as PKCS#8 DER sealed with a password: scrypt turns the password into
a 32-byte key, NaCl's secretbox (XSalsa20-Poly1305) seals the DER, and the JSON description of
both (``{"kdf": {"name": "scrypt", "params": {"N", "r", "p"}, "salt"}, "cipher": {"name":
"nacl/secretbox", "nonce"}, "ciphertext"}``, go-securesystemslib's layout) is the body of a PEM
block typed ``ENCRYPTED SIGSTORE PRIVATE KEY`` (older cosign: ``ENCRYPTED COSIGN PRIVATE KEY``).
Public keys are ordinary SubjectPublicKeyInfo PEM, so openssl reads them too.

Signatures are what cosign makes: ECDSA P-256 over SHA-256 (DER-encoded), RSA PKCS#1 v1.5 with
SHA-256, or Ed25519 over the message itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from lamina.errors import SignatureError

SIGSTORE_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY"

#: cosign's scrypt cost (N=2^15, r=8, p=1): about 0.1 s and 32 MiB per attempt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 32768, 8, 1
#: A key file names its own scrypt cost; more than this is refused (bounded time and memory).
MAX_SCRYPT_MEMORY = 512 * 1024 * 1024
#: Key files are a few hundred bytes; anything far larger is not a key.
MAX_KEY_FILE = 64 * 1024

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A key pair as cosign writes it: ``cosign.key`` (encrypted) and ``cosign.pub`` bytes."""

    private_pem: bytes
    public_pem: bytes


def generate_key_pair(password: bytes | str) -> KeyPair:
    """A new ECDSA P-256 key pair, the private half sealed the way cosign seals it."""
    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(encrypt_private_key(key, password), public_key_pem(key.public_key()))


def encrypt_private_key(key: PrivateKey, password: bytes | str) -> bytes:
    """``-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----`` around scrypt + secretbox of PKCS#8."""
    from nacl.secret import SecretBox
    from nacl.utils import random as random_bytes

    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    salt = os.urandom(32)
    box_key = _scrypt(_as_bytes(password), salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    nonce = random_bytes(SecretBox.NONCE_SIZE)
    sealed = SecretBox(box_key).encrypt(der, nonce).ciphertext
    document = {
        "kdf": {"name": "scrypt", "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
                "salt": _b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(sealed),
    }
    return _pem(SIGSTORE_PEM_TYPE, json.dumps(document, separators=(",", ":")).encode())


def public_key_pem(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(data: bytes, password: bytes | str | None, *, where: str = "private key") -> PrivateKey:
    """A cosign encrypted key (password needed) or a plain PEM private key (PKCS#8, SEC1, PKCS#1)."""
    pem_type = _pem_type(data, where)
    if pem_type in (SIGSTORE_PEM_TYPE, COSIGN_PEM_TYPE):
        if password is None:
            raise SignatureError(f"{where}: an encrypted cosign key needs a password (COSIGN_PASSWORD)")
        der = _decrypt(_pem_body(data, pem_type, where), _as_bytes(password), where)
        try:
            key = serialization.load_der_private_key(der, password=None)
        except ValueError as exc:
            raise SignatureError(f"{where}: the decrypted key is not PKCS#8 ({exc})") from None
    else:
        secret = _as_bytes(password) if password and "ENCRYPTED" in pem_type else None
        try:
            key = serialization.load_pem_private_key(data, password=secret)
        except (ValueError, TypeError) as exc:
            raise SignatureError(f"{where}: not a usable PEM private key ({_first_line(exc)})") from None
    if not isinstance(key, PrivateKey):
        raise SignatureError(f"{where}: unsupported key type {type(key).__name__} (ECDSA, RSA or Ed25519)")
    return key


def load_public_key(data: bytes, *, where: str = "public key") -> PublicKey:
    """A PEM public key (SubjectPublicKeyInfo) or the key of a PEM certificate."""
    pem_type = _pem_type(data, where)
    try:
        if pem_type == "CERTIFICATE":
            from cryptography import x509

            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SignatureError(f"{where}: not a usable PEM public key ({_first_line(exc)})") from None
    if not isinstance(key, PublicKey):
        raise SignatureError(f"{where}: unsupported key type {type(key).__name__} (ECDSA, RSA or Ed25519)")
    return key


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """A key file's bytes, refusing what cannot be a key (a directory, a huge file) in one line."""
    target = Path(path)
    try:
        with target.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise SignatureError(f"{target}: cannot read key: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE:
        raise SignatureError(f"{target}: over {MAX_KEY_FILE // 1024} KiB, not a key file")
    return data


def sign_message(key: PrivateKey, message: bytes) -> bytes:
    """The raw signature of ``message`` as cosign makes it with this kind of key."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(message)


def verify_message(key: PublicKey, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is ``key``'s over ``message``; never raises for a bad signature."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_of(key: PrivateKey) -> PublicKey:
    return key.public_key()


# -- the sealed body -----------------------------------------------------------------------

def _decrypt(body: bytes, password: bytes, where: str) -> bytes:
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    try:
        document: Any = json.loads(body)
        kdf, cipher = document["kdf"], document["cipher"]
        params = kdf["params"]
        n, r, p = int(params["N"]), int(params["r"]), int(params["p"])
        salt, nonce = _unb64(kdf["salt"]), _unb64(cipher["nonce"])
        ciphertext = _unb64(document["ciphertext"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise SignatureError(f"{where}: not cosign's encrypted key layout (scrypt + nacl/secretbox JSON)") from None
    if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox":
        raise SignatureError(f"{where}: unsupported key encryption {kdf.get('name')}/{cipher.get('name')} "
                             "(cosign uses scrypt/nacl/secretbox)")
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * r * (n + p) > MAX_SCRYPT_MEMORY or r * p >= 1 << 30:
        raise SignatureError(f"{where}: scrypt parameters N={n} r={r} p={p} are out of bounds")
    if len(nonce) != SecretBox.NONCE_SIZE:
        raise SignatureError(f"{where}: secretbox nonce is {len(nonce)} bytes, expected {SecretBox.NONCE_SIZE}")
    box_key = _scrypt(password, salt, n, r, p)
    try:
        return SecretBox(box_key).decrypt(ciphertext, nonce)
    except CryptoError:
        raise SignatureError(f"{where}: wrong password (the key does not decrypt)") from None


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=MAX_SCRYPT_MEMORY + (1 << 20))


# -- PEM -----------------------------------------------------------------------------------

def _pem_type(data: bytes, where: str) -> str:
    text = data.decode("ascii", "replace")
    start = text.find("-----BEGIN ")
    if start < 0:
        raise SignatureError(f"{where}: not a PEM file (no -----BEGIN line)")
    end = text.find("-----", start + 11)
    if end < 0:
        raise SignatureError(f"{where}: malformed PEM header")
    return text[start + 11:end]


def _pem_body(data: bytes, pem_type: str, where: str) -> bytes:
    text = data.decode("ascii", "replace")
    begin, end = f"-----BEGIN {pem_type}-----", f"-----END {pem_type}-----"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise SignatureError(f"{where}: PEM block {pem_type} has no END line")
    try:
        return base64.b64decode("".join(text[start + len(begin):stop].split()), validate=True)
    except binascii.Error:
        raise SignatureError(f"{where}: PEM body is not base64") from None


def _pem(pem_type: str, body: bytes) -> bytes:
    encoded = base64.b64encode(body).decode()
    lines = [encoded[i:i + 64] for i in range(0, len(encoded), 64)]
    return ("\n".join([f"-----BEGIN {pem_type}-----", *lines, f"-----END {pem_type}-----"]) + "\n").encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError("expected a base64 string")
    return base64.b64decode(text, validate=True)


def _as_bytes(password: bytes | str) -> bytes:
    return password.encode() if isinstance(password, str) else password


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
