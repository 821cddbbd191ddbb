"""Attestations as cosign stores them: an in-toto statement in a signed DSSE envelope, under ``.att``.

The statement names the image (``subject``: repository and manifest digest) and carries a
predicate (a CycloneDX or SPDX SBOM, SLSA provenance, or any JSON) of a ``predicateType``. The
DSSE envelope signs the statement through the pre-authentication encoding (``DSSEv1 <len>
<type> <len> <body>``), so the payload type is signed too. Each envelope is one layer of the
image's ``sha256-<hex>.att`` manifest (media type ``application/vnd.dsse.envelope.v1+json``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lamina.errors import SignatureError
from lamina.oci.reference import parse_reference
from lamina.security.signing.attachments import Attachment, Registry, append_attachment, read_attachments
from lamina.security.signing.cosign import SIGNATURE_ANNOTATION, _union, registry_for, resolve_digest
from lamina.security.signing.keys import PrivateKey, PublicKey, sign_message, verify_message
from lamina.security.signing.referrers import push_referrer, read_referrers

DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"
ATTESTATION_SUFFIX = "att"
#: cosign's ``--type`` names and the predicate types they stand for.
PREDICATE_TYPES = {
    "cyclonedx": "https://cyclonedx.org/bom",
    "spdx": "https://spdx.dev/Document",
    "spdxjson": "https://spdx.dev/Document",
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "custom": "https://cosign.sigstore.dev/attestation/v1",
}


@dataclass(frozen=True, slots=True)
class VerifiedAttestation:
    predicate_type: str
    statement: dict[str, Any]
    envelope: bytes


def predicate_type_for(kind: str) -> str:
    """A cosign ``--type`` name, or a predicate type URI as given."""
    if kind in PREDICATE_TYPES:
        return PREDICATE_TYPES[kind]
    if "://" in kind:
        return kind
    raise SignatureError(f"unknown attestation type {kind!r} (one of {', '.join(PREDICATE_TYPES)} or a URI)")


def make_statement(repository: str, manifest_digest: str, predicate_type: str, predicate: Any) -> bytes:
    algorithm, _, hex_part = manifest_digest.partition(":")
    statement = {"_type": STATEMENT_TYPE, "predicateType": predicate_type,
                 "subject": [{"name": repository, "digest": {algorithm: hex_part}}], "predicate": predicate}
    return json.dumps(statement, separators=(",", ":")).encode()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the envelope's signature covers."""
    encoded_type = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(encoded_type), encoded_type, len(payload), payload)


def make_envelope(statement: bytes, key: PrivateKey) -> bytes:
    signature = sign_message(key, pae(IN_TOTO_PAYLOAD_TYPE, statement))
    envelope = {"payloadType": IN_TOTO_PAYLOAD_TYPE, "payload": base64.b64encode(statement).decode(),
                "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}]}
    return json.dumps(envelope, separators=(",", ":")).encode()


def attest(image: str, key: PrivateKey, predicate: Any, kind: str = "custom", *,
           registry: Registry | None = None) -> tuple[str, str]:
    """Sign ``predicate`` about ``image`` and append it to the image's ``.att``; returns (tag, manifest digest)."""
    predicate_type = predicate_type_for(kind)
    ref = parse_reference(image)
    with registry_for(ref, registry) as client:
        digest = resolve_digest(client, ref)
        envelope = make_envelope(make_statement(ref.repository, digest, predicate_type, predicate), key)
        attachment = Attachment(DSSE_MEDIA_TYPE, envelope, {SIGNATURE_ANNOTATION: "", "predicateType": predicate_type})
        result = append_attachment(client, ref.path, digest, ATTESTATION_SUFFIX, attachment)
        push_referrer(client, ref.path, digest, ATTESTATION_SUFFIX, attachment)
        return result


def verify_attestation(image: str, keys: Sequence[PublicKey], kind: str | None = None, *,
                       registry: Registry | None = None) -> list[VerifiedAttestation]:
    """The image's attestations that verify (of ``kind`` when given); SignatureError when none does."""
    wanted = predicate_type_for(kind) if kind else None
    ref = parse_reference(image)
    with registry_for(ref, registry) as client:
        digest = resolve_digest(client, ref)
        attachments = _union(read_referrers(client, ref.path, digest, ATTESTATION_SUFFIX),
                             read_attachments(client, ref.path, digest, ATTESTATION_SUFFIX))
    if not attachments:
        raise SignatureError(f"{ref}: no attestations found (no tag {digest.replace(':', '-')}.{ATTESTATION_SUFFIX})")
    return verify_envelopes(attachments, keys, digest, wanted, str(ref))


def verify_envelopes(attachments: Sequence[Attachment], keys: Sequence[PublicKey], digest: str,
                     wanted: str | None, where: str) -> list[VerifiedAttestation]:
    """The ``.att`` layers that verify as attestations of ``digest`` (of predicate type ``wanted``
    when given); SignatureError naming the first reason when none does."""
    verified, reasons = [], []
    for attachment in attachments:
        try:
            found = verify_envelope(attachment, keys, digest)
        except SignatureError as exc:
            reasons.append(str(exc))
            continue
        if wanted and found.predicate_type != wanted:
            reasons.append(f"predicate type {found.predicate_type} is not {wanted}")
            continue
        verified.append(found)
    if not verified:
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise SignatureError(f"{where}: no valid attestation: {reasons[0]}{more}")
    return verified


def verify_envelope(attachment: Attachment, keys: Sequence[PublicKey], manifest_digest: str) -> VerifiedAttestation:
    """One ``.att`` layer: a DSSE envelope whose signature verifies and whose statement names the image."""
    where = f"attestation {attachment.digest[:19]}"
    if attachment.media_type != DSSE_MEDIA_TYPE:
        raise SignatureError(f"{where} is {attachment.media_type!r}, not a DSSE envelope")
    try:
        envelope = json.loads(attachment.payload)
        payload_type = envelope["payloadType"]
        statement_bytes = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(item["sig"], validate=True) for item in envelope["signatures"]]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise SignatureError(f"{where}: malformed DSSE envelope") from None
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise SignatureError(f"{where}: payload type {payload_type!r} is not in-toto")
    message = pae(payload_type, statement_bytes)
    if not any(verify_message(key, signature, message) for key in keys for signature in signatures):
        raise SignatureError(f"{where}: signature does not verify with the given key")
    try:
        statement = json.loads(statement_bytes)
        predicate_type = statement["predicateType"]
        subjects = statement["subject"]
        algorithm, _, hex_part = manifest_digest.partition(":")
        names_image = any(subject.get("digest", {}).get(algorithm) == hex_part for subject in subjects)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SignatureError(f"{where}: malformed in-toto statement") from None
    if not names_image:
        raise SignatureError(f"{where}: statement's subject is not {manifest_digest}")
    return VerifiedAttestation(str(predicate_type), statement, attachment.payload)
