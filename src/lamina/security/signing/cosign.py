"""Sign and verify images in a registry the way cosign does (key-based signatures).

A signature is a simple-signing payload (payload.py) signed with the key, stored as one layer
of the image's ``sha256-<hex>.sig`` attachment manifest (attachments.py) with the base64
signature in the ``dev.cosignproject.cosign/signature`` annotation. Verifying reads every
layer there and keeps those whose signature verifies with one of the given keys, whose payload
names the image's manifest digest, and (when asked) whose identity fits a check.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lamina.errors import SignatureError
from lamina.oci.reference import Reference, parse_reference
from lamina.security.signing.attachments import Attachment, Registry, append_attachment, read_attachments
from lamina.security.signing.keyless import FulcioTrust
from lamina.security.signing.keys import PrivateKey, PublicKey, sign_message, verify_message
from lamina.security.signing.payload import (
    SIMPLE_SIGNING_MEDIA_TYPE,
    SimpleSigningPayload,
    make_payload,
    parse_payload,
)
from lamina.security.signing.referrers import push_referrer, read_referrers

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
SIGNATURE_SUFFIX = "sig"
#: containers/image's file form of one signature (``dir:`` signatures, its test fixtures).
SIGSTORE_JSON_PREFIX = b"\x00sigstore-json\n"

#: ``identity_check(docker_reference)`` returns None when the signed name is acceptable,
#: else the reason it is not.
IdentityCheck = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """A signature that verified: the payload's claims, its exact bytes, and what was not checked."""

    payload: SimpleSigningPayload
    payload_bytes: bytes
    annotations: dict[str, str] = field(default_factory=dict)
    unchecked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SignResult:
    reference: str
    repository: str
    manifest_digest: str
    signature_tag: str
    signature_manifest_digest: str
    payload: bytes


def sign(image: str, key: PrivateKey, *, annotations: dict[str, str] | None = None,
         registry: Registry | None = None) -> SignResult:
    """Sign the manifest ``image`` names in its registry and append the signature under ``.sig``.

    The signed identity is the reference as given (with its tag, as skopeo and podman write it,
    so containers-policy's default ``matchRepoDigestOrExact`` accepts it); cosign's verify only
    checks the digest.
    """
    ref = parse_reference(image)
    with registry_for(ref, registry) as client:
        digest = resolve_digest(client, ref)
        identity = _identity(ref)
        payload = make_payload(identity, digest, annotations)
        signature = base64.b64encode(sign_message(key, payload)).decode()
        attachment = Attachment(SIMPLE_SIGNING_MEDIA_TYPE, payload, {SIGNATURE_ANNOTATION: signature})
        tag, manifest_digest = append_attachment(client, ref.path, digest, SIGNATURE_SUFFIX, attachment)
        push_referrer(client, ref.path, digest, SIGNATURE_SUFFIX, attachment)
    return SignResult(str(ref), ref.repository, digest, tag, manifest_digest, payload)


def verify(image: str, keys: Sequence[PublicKey], *, identity_check: IdentityCheck | None = None,
           registry: Registry | None = None, rekor_keys: Sequence[PublicKey] | None = None,
           fulcio: FulcioTrust | None = None) -> list[VerifiedSignature]:
    """Every signature of ``image`` that verifies; SignatureError (one line, with the reason) when none does.

    ``keys``: public keys; or ``fulcio`` (roots, OIDC issuer, e-mail) for keyless signatures.
    ``rekor_keys``: also require a Rekor SET that verifies (offline, from the signature's bundle).
    """
    ref = parse_reference(image)
    with registry_for(ref, registry) as client:
        digest = resolve_digest(client, ref)
        attachments = _union(read_referrers(client, ref.path, digest, SIGNATURE_SUFFIX),
                             read_attachments(client, ref.path, digest, SIGNATURE_SUFFIX))
    if not attachments:
        raise SignatureError(f"{ref}: no signatures found (no tag {ref.domain}/{ref.path}:"
                             f"{digest.replace(':', '-')}.{SIGNATURE_SUFFIX})")
    return verify_signatures(attachments, keys, digest, identity_check=identity_check, where=str(ref),
                             rekor_keys=rekor_keys, fulcio=fulcio)


def verify_signatures(attachments: Sequence[Attachment], keys: Sequence[PublicKey], manifest_digest: str, *,
                      identity_check: IdentityCheck | None = None, where: str = "image",
                      rekor_keys: Sequence[PublicKey] | None = None,
                      fulcio: FulcioTrust | None = None) -> list[VerifiedSignature]:
    """The attachments that verify as signatures of ``manifest_digest``; raises when none does."""
    verified, reasons = [], []
    for attachment in attachments:
        try:
            verified.append(verify_signature(attachment, keys, manifest_digest, identity_check=identity_check,
                                             rekor_keys=rekor_keys, fulcio=fulcio))
        except SignatureError as exc:
            reasons.append(str(exc))
    if not verified:
        detail = reasons[0] if reasons else "no signature layers"
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise SignatureError(f"{where}: no valid signature: {detail}{more}")
    return verified


def verify_signature(attachment: Attachment, keys: Sequence[PublicKey], manifest_digest: str, *,
                     identity_check: IdentityCheck | None = None, rekor_keys: Sequence[PublicKey] | None = None,
                     fulcio: FulcioTrust | None = None) -> VerifiedSignature:
    """Check one signature layer: media type, signature over the payload bytes, digest, identity;
    with ``fulcio`` the key is the certificate's (checked against the roots at the Rekor time), with
    ``rekor_keys`` the Rekor SET must verify too."""
    label = f"layer {attachment.digest[:19]}"
    if attachment.media_type != SIMPLE_SIGNING_MEDIA_TYPE:
        raise SignatureError(f"{label} is {attachment.media_type!r}, not a signature")
    encoded = attachment.annotations.get(SIGNATURE_ANNOTATION)
    if encoded is None:
        raise SignatureError(f"{label} has no {SIGNATURE_ANNOTATION} annotation")
    try:
        raw_signature = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise SignatureError(f"{label}: signature annotation is not base64") from None
    certificate = attachment.annotations.get(CERTIFICATE_ANNOTATION, "").encode()
    bundle = attachment.annotations.get(BUNDLE_ANNOTATION)
    if fulcio is not None:
        from lamina.security.signing.keyless import verify_fulcio_certificate, verify_rekor_set

        if not certificate:
            raise SignatureError(f"{label} has no Fulcio certificate")
        if not rekor_keys or bundle is None:
            raise SignatureError(f"{label}: a Fulcio certificate is only checked with a Rekor bundle and key")
        try:
            logged_at = verify_rekor_set(bundle, list(rekor_keys), certificate, encoded, attachment.payload)
            keys = [verify_fulcio_certificate(certificate, attachment.annotations.get(CHAIN_ANNOTATION, "").encode(),
                                              fulcio, logged_at)]
        except SignatureError as exc:
            raise SignatureError(f"{label}: {exc}") from None
    if not keys:
        raise SignatureError("no public key to verify with")
    matched = next((key for key in keys if verify_message(key, raw_signature, attachment.payload)), None)
    if matched is None:
        raise SignatureError(f"{label}: signature does not verify with the given key")
    if rekor_keys and fulcio is None:
        from lamina.security.signing.keyless import verify_rekor_set
        from lamina.security.signing.keys import public_key_pem

        if bundle is None:
            raise SignatureError(f"{label} has no Rekor bundle")
        try:
            verify_rekor_set(bundle, list(rekor_keys), public_key_pem(matched), encoded, attachment.payload)
        except SignatureError as exc:
            raise SignatureError(f"{label}: {exc}") from None
    payload = parse_payload(attachment.payload, where=f"{label} payload")
    if payload.manifest_digest != manifest_digest:
        raise SignatureError(f"{label}: payload signs {payload.manifest_digest}, "
                             f"the image is {manifest_digest}")
    if identity_check is not None:
        reason = identity_check(payload.docker_reference)
        if reason:
            raise SignatureError(f"{label}: {reason}")
    unchecked = tuple(name for name, checked in ((CERTIFICATE_ANNOTATION, fulcio is not None),
                                                 (BUNDLE_ANNOTATION, bool(rekor_keys)))
                      if name in attachment.annotations and not checked)
    return VerifiedSignature(payload, attachment.payload, dict(attachment.annotations), unchecked)


def _union(first: Sequence[Attachment], second: Sequence[Attachment]) -> list[Attachment]:
    """Referrers first, then the tag's layers, each attachment once."""
    result: list[Attachment] = []
    for attachment in [*first, *second]:
        if attachment not in result:
            result.append(attachment)
    return result


def parse_sigstore_json(data: bytes, *, where: str = "signature") -> Attachment:
    """containers/image's one-file form of a signature (``\\0sigstore-json\\n`` + JSON)."""
    import json

    if not data.startswith(SIGSTORE_JSON_PREFIX):
        raise SignatureError(f"{where}: not a sigstore-json signature file")
    try:
        document = json.loads(data[len(SIGSTORE_JSON_PREFIX):])
        payload = base64.b64decode(document["payload"], validate=True)
        annotations = {str(k): str(v) for k, v in (document.get("annotations") or {}).items()}
        return Attachment(str(document["mimeType"]), payload, annotations)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise SignatureError(f"{where}: malformed sigstore-json signature") from None


def resolve_digest(registry: Registry, ref: Reference) -> str:
    """The manifest digest ``ref`` names (its digest, or what its tag points at now)."""
    if ref.digest:
        return ref.digest
    info = registry.head_manifest(ref.path, ref.tag or "latest")
    if info is None:
        raise SignatureError(f"{ref}: no such image in {ref.domain}")
    return info.digest


def _identity(ref: Reference) -> str:
    """``host/repo:tag`` when signed by tag, else ``host/repo`` (cosign's form for a digest)."""
    return str(ref.with_tag(ref.tag)) if ref.tag else ref.repository


class _Borrowed:
    """A registry client the caller owns: used as a context manager but not closed."""

    def __init__(self, client: Registry) -> None:
        self.client = client

    def __enter__(self) -> Registry:
        return self.client

    def __exit__(self, *_exc: object) -> None:
        return None


def registry_for(ref: Reference, registry: Registry | None):
    if registry is not None:
        return _Borrowed(registry)
    from lamina.registry.client import RegistryClient

    return RegistryClient(ref.domain)
