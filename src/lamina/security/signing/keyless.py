"""Keyless (Fulcio + Rekor) signatures checked offline, from what the signature carries.

A keyless cosign signature carries its short-lived Fulcio certificate (and chain) and a Rekor
bundle: the Signed Entry Timestamp (SET), Rekor's ECDSA signature over the canonical JSON of
``{body, integratedTime, logID, logIndex}``, where ``body`` is the ``hashedrekord`` entry naming
the payload's SHA-256, the signature and the certificate. With Rekor's public key and the Fulcio
roots at hand nothing online is needed: the SET proves when the entry was logged, the
certificate must chain to a Fulcio root and be valid at that moment, and its OIDC issuer and
e-mail must be the expected ones. What cannot be checked offline is that the entry is still in
the log (inclusion proofs against a fresh tree head); lamina does not claim it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from lamina.errors import SignatureError

#: Fulcio's OIDC issuer extensions: v1 holds the raw string, v2 a DER UTF8String.
OIDC_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
OIDC_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
MAX_CHAIN = 8


@dataclass(frozen=True, slots=True)
class FulcioTrust:
    """What a keyless signature must satisfy: Fulcio roots, OIDC issuer, subject e-mail."""

    roots_pem: bytes
    oidc_issuer: str
    subject_email: str


def verify_rekor_set(bundle_json: str, rekor_keys: list, key_or_cert_pem: bytes, signature_b64: str,
                     payload: bytes) -> int:
    """Check a ``dev.sigstore.cosign/bundle`` SET; returns its integrated time (Unix seconds)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        bundle = json.loads(bundle_json)
        set_signature = base64.b64decode(bundle["SignedEntryTimestamp"], validate=True)
        entry = bundle["Payload"]
        canonical = json.dumps({"body": entry["body"], "integratedTime": entry["integratedTime"],
                                "logID": entry["logID"], "logIndex": entry["logIndex"]},
                               sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        integrated_time = int(entry["integratedTime"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise SignatureError("Rekor bundle is malformed") from None
    if not any(isinstance(key, ec.EllipticCurvePublicKey) and _ecdsa_ok(key, set_signature, canonical, hashes, ec)
               for key in rekor_keys):
        raise SignatureError("Rekor SET does not verify with the given Rekor key")
    try:
        body = json.loads(base64.b64decode(entry["body"], validate=True))
        if body.get("kind") != "hashedrekord" or body.get("apiVersion") != "0.0.1":
            raise SignatureError(f"Rekor entry is {body.get('kind')} {body.get('apiVersion')}, not hashedrekord 0.0.1")
        spec = body["spec"]
        logged_key = base64.b64decode(spec["signature"]["publicKey"]["content"], validate=True)
        logged_signature = base64.b64decode(spec["signature"]["content"], validate=True)
        logged_hash = spec["data"]["hash"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise SignatureError("Rekor entry body is malformed") from None
    if _pem_der(logged_key) != _pem_der(key_or_cert_pem):
        raise SignatureError("the Rekor entry names another key or certificate")
    if logged_signature != base64.b64decode(signature_b64):
        raise SignatureError("the Rekor entry names another signature")
    if logged_hash.get("algorithm") != "sha256" or logged_hash.get("value") != hashlib.sha256(payload).hexdigest():
        raise SignatureError("the Rekor entry names another payload")
    return integrated_time


def verify_fulcio_certificate(certificate_pem: bytes, chain_pem: bytes, trust: FulcioTrust, at: int):
    """The certificate's public key, once it chains to a Fulcio root, was valid at ``at`` and names
    the expected OIDC issuer and e-mail; SignatureError otherwise."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        leaf = x509.load_pem_x509_certificate(certificate_pem)
        intermediates = x509.load_pem_x509_certificates(chain_pem) if chain_pem.strip() else []
        roots = x509.load_pem_x509_certificates(trust.roots_pem)
    except ValueError as exc:
        raise SignatureError(f"certificate is not PEM ({exc})") from None
    moment = datetime.datetime.fromtimestamp(at, datetime.UTC)
    _check_chain(leaf, intermediates[:MAX_CHAIN], roots, moment)
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = []
    if ExtendedKeyUsageOID.CODE_SIGNING not in usages:
        raise SignatureError("Fulcio certificate is not for code signing")
    issuer = _oidc_issuer(leaf)
    if issuer != trust.oidc_issuer:
        raise SignatureError(f"Fulcio certificate's OIDC issuer is {issuer!r}, expected {trust.oidc_issuer!r}")
    try:
        emails = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.RFC822Name)
    except x509.ExtensionNotFound:
        emails = []
    if trust.subject_email not in emails:
        raise SignatureError(f"Fulcio certificate is for {emails or 'no e-mail'}, expected {trust.subject_email}")
    return leaf.public_key()


def _check_chain(leaf: Any, intermediates: list, roots: list, moment: datetime.datetime) -> None:
    """leaf → intermediates → a root, each signed by the next and valid at ``moment``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509 import BasicConstraints, ExtensionNotFound

    current = leaf
    pool = list(intermediates)
    for _depth in range(MAX_CHAIN + 1):
        if not current.not_valid_before_utc <= moment <= current.not_valid_after_utc:
            raise SignatureError(f"certificate {current.subject.rfc4514_string()} was not valid at {moment:%Y-%m-%dT%H:%M:%SZ}")
        for root in roots:
            if root.subject == current.issuer and _issued_by(current, root, InvalidSignature):
                if not root.not_valid_before_utc <= moment <= root.not_valid_after_utc:
                    raise SignatureError("Fulcio root was not valid when the entry was logged")
                return
        parent = next((cert for cert in pool if cert.subject == current.issuer
                       and _issued_by(current, cert, InvalidSignature)), None)
        if parent is None:
            raise SignatureError("certificate does not chain to the given Fulcio roots")
        try:
            if not parent.extensions.get_extension_for_class(BasicConstraints).value.ca:
                raise SignatureError("an intermediate certificate is not a CA")
        except ExtensionNotFound:
            raise SignatureError("an intermediate certificate is not a CA") from None
        pool.remove(parent)
        current = parent
    raise SignatureError("certificate chain is too long")


def _issued_by(certificate: Any, issuer: Any, invalid: type[Exception]) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (invalid, ValueError, TypeError):
        return False
    return True


def _oidc_issuer(certificate: Any) -> str | None:
    from cryptography.x509 import ObjectIdentifier

    values = {}
    for extension in certificate.extensions:
        if extension.oid in (ObjectIdentifier(OIDC_ISSUER_V1), ObjectIdentifier(OIDC_ISSUER_V2)):
            values[extension.oid.dotted_string] = extension.value.value
    v1 = values.get(OIDC_ISSUER_V1)
    v2 = values.get(OIDC_ISSUER_V2)
    first = v1.decode("utf-8", "replace") if v1 is not None else None
    second = _der_utf8(v2) if v2 is not None else None
    if first is not None and second is not None and first != second:
        raise SignatureError(f"inconsistent OIDC issuer extensions: {first!r} vs {second!r}")
    return first if first is not None else second


def _der_utf8(data: bytes) -> str:
    """A DER UTF8String (tag 12) with a short or long length."""
    if len(data) < 2 or data[0] != 0x0C:
        raise SignatureError("OIDC issuer v2 extension is not a UTF8String")
    length, offset = data[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(data[2:2 + count], "big"), 2 + count
    if offset + length != len(data):
        raise SignatureError("OIDC issuer v2 extension has trailing data")
    return data[offset:].decode("utf-8", "replace")


def _ecdsa_ok(key: Any, signature: bytes, message: bytes, hashes: Any, ec: Any) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _pem_der(data: bytes) -> bytes:
    """The DER inside one PEM block (what containers/image compares), or the bytes as given."""
    text = data.decode("ascii", "replace")
    start = text.find("-----BEGIN ")
    if start < 0:
        return data
    body_start = text.find("\n", start) + 1
    end = text.find("-----END ", body_start)
    try:
        return base64.b64decode("".join(text[body_start:end].split()), validate=True)
    except binascii.Error:
        return data
