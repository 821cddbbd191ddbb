"""Real cosign signatures (containers/image's fixtures, tests/security/data/cosign/README.md) are
the cosign oracle: the valid ones verify with lamina, and every tampered or foreign one fails
with the reason containers/image's own tests give."""

from __future__ import annotations

import base64

import pytest

from lamina.errors import SignatureError
from lamina.security.signing.attachments import Attachment
from lamina.security.signing.cosign import (
    SIGNATURE_ANNOTATION,
    parse_sigstore_json,
    verify_signature,
    verify_signatures,
)
from lamina.security.signing.keys import load_public_key
from tests.security.sign_support import COSIGN_DATA, sha256_of

KEY = load_public_key((COSIGN_DATA / "cosign.pub").read_bytes())
KEY2 = load_public_key((COSIGN_DATA / "cosign2.pub").read_bytes())
VALID_DIGEST = sha256_of(COSIGN_DATA / "valid" / "manifest.json")


def signature(name: str) -> Attachment:
    return parse_sigstore_json((COSIGN_DATA / name).read_bytes(), where=name)


@pytest.mark.parametrize("signature_file, manifest, keys, reference", [
    ("valid/signature-1", "valid/manifest.json", [KEY], "192.168.64.2:5000/cosign-signed-single-sample"),
    ("valid-2/signature-2", "valid/manifest.json", [KEY], "192.168.64.2:5000/cosign-signed-single-sample"),
    ("valid/signature-1", "valid/manifest.json", [KEY2, KEY], "192.168.64.2:5000/cosign-signed-single-sample"),
    ("valid-with-tag/signature-1", "valid-with-tag/manifest.json", [KEY], "192.168.64.2:5000/skopeo-signed:tag"),
    ("key-rekor/signature-1", "key-rekor/manifest.json", [KEY2], "192.168.64.2:5000/cosign-signed/key-1"),
])
def test_valid_cosign_signatures_verify(signature_file, manifest, keys, reference):
    verified = verify_signature(signature(signature_file), keys, sha256_of(COSIGN_DATA / manifest))
    assert verified.payload.docker_reference == reference
    assert verified.payload.manifest_digest == sha256_of(COSIGN_DATA / manifest)


def test_a_rekor_bundle_is_reported_as_not_checked_offline():
    verified = verify_signature(signature("key-rekor/signature-1"), [KEY2],
                                sha256_of(COSIGN_DATA / "key-rekor" / "manifest.json"))
    assert verified.unchecked == ("dev.sigstore.cosign/bundle",)


@pytest.mark.parametrize("signature_file, manifest, keys, reason", [
    ("valid/signature-1", "valid/manifest.json", [KEY2], "does not verify"),
    ("unknown-cosign-key.signature", "valid/manifest.json", [KEY], "does not verify"),
    ("valid/signature-1", "modified-manifest/manifest.json", [KEY], "payload signs sha256:634a8f35"),
    ("valid/signature-1", "v2s1-invalid-signatures.manifest.json", [KEY], "payload signs"),
    ("other-attachment/signature-1", "valid/manifest.json", [KEY], "'text/plain', not a signature"),
])
def test_tampered_or_foreign_signatures_fail(signature_file, manifest, keys, reason):
    with pytest.raises(SignatureError, match=reason) as info:
        verify_signature(signature(signature_file), keys, sha256_of(COSIGN_DATA / manifest))
    assert "\n" not in str(info.value)


def test_a_garbage_signature_annotation_fails():
    real = signature("valid/signature-1")
    forged = Attachment(real.media_type, real.payload,
                        {SIGNATURE_ANNOTATION: base64.b64encode(b"invalid signature").decode()})
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(forged, [KEY], VALID_DIGEST)
    not_base64 = Attachment(real.media_type, real.payload, {SIGNATURE_ANNOTATION: "%%%"})
    with pytest.raises(SignatureError, match="not base64"):
        verify_signature(not_base64, [KEY], VALID_DIGEST)


def test_a_flipped_payload_byte_fails():
    real = signature("valid/signature-1")
    flipped = real.payload.replace(b"single-sample", b"single-sampLe")
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(Attachment(real.media_type, flipped, real.annotations), [KEY], VALID_DIGEST)


def test_one_valid_among_several_is_enough_and_none_valid_names_the_first_reason():
    mixed = [signature("unknown-cosign-key.signature"), signature("valid/signature-1")]
    assert len(verify_signatures(mixed, [KEY], VALID_DIGEST)) == 1
    with pytest.raises(SignatureError, match=r"no valid signature: .*does not verify.* \(and 1 more\)"):
        verify_signatures(mixed, [KEY2], VALID_DIGEST, where="img")


def test_an_identity_check_can_reject_a_valid_signature():
    def only_other(name: str) -> str | None:
        return None if name == "this/does-not:match" else f"signed for {name}"

    with pytest.raises(SignatureError, match="signed for 192.168.64.2:5000/cosign-signed-single-sample"):
        verify_signature(signature("valid/signature-1"), [KEY], VALID_DIGEST, identity_check=only_other)
