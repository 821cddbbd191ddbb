"""Keyless (Fulcio + Rekor) and key + Rekor signatures checked offline, with containers/image's
real fixtures: the valid ones verify with the Fulcio root, OIDC issuer, e-mail and Rekor key its
tests use; a wrong issuer, e-mail, root or Rekor key, or a tampered SET, fails. The same real
signature served by a scripted registry passes ``lamina verify --ca-roots`` and a
containers-policy.json ``fulcio`` requirement."""

from __future__ import annotations

import datetime
import json

import pytest

from lamina.errors import PolicyError, SignatureError
from lamina.oci.reference import parse_reference
from lamina.security.signing.attachments import OCI_MANIFEST, attachment_tag
from lamina.security.signing.cosign import BUNDLE_ANNOTATION, parse_sigstore_json, verify_signature
from lamina.security.signing.keyless import FulcioTrust
from lamina.security.signing.keys import load_public_key
from lamina.security.signing.policy import check_image, parse_policy
from tests.registry.servers import make_client
from tests.security import sign_support
from tests.security.sign_support import COSIGN_DATA, sha256_of

sign_scripted = sign_support.sign_scripted
REKOR = load_public_key((COSIGN_DATA / "rekor.pub").read_bytes())
KEY2 = load_public_key((COSIGN_DATA / "cosign2.pub").read_bytes())
ROOTS = (COSIGN_DATA / "fulcio_v1.crt.pem").read_bytes()
ISSUER, EMAIL = "https://github.com/login/oauth", "mitr@redhat.com"
KEYLESS = parse_sigstore_json((COSIGN_DATA / "fulcio-rekor" / "signature-1").read_bytes())
KEYLESS_DIGEST = sha256_of(COSIGN_DATA / "fulcio-rekor" / "manifest.json")
KEY_REKOR = parse_sigstore_json((COSIGN_DATA / "key-rekor" / "signature-1").read_bytes())
KEY_REKOR_DIGEST = sha256_of(COSIGN_DATA / "key-rekor" / "manifest.json")


def test_keyless_signature_verifies_offline():
    verified = verify_signature(KEYLESS, [], KEYLESS_DIGEST, rekor_keys=[REKOR],
                                fulcio=FulcioTrust(ROOTS, ISSUER, EMAIL))
    assert verified.payload.docker_reference == "192.168.64.2:5000/cosign-signed/fulcio-rekor-1"
    assert verified.unchecked == ()


def test_key_signature_with_rekor_set_verifies_and_nothing_is_left_unchecked():
    assert verify_signature(KEY_REKOR, [KEY2], KEY_REKOR_DIGEST, rekor_keys=[REKOR]).unchecked == ()


@pytest.mark.parametrize("trust, rekor, message", [
    (FulcioTrust(ROOTS, "https://accounts.google.com", EMAIL), [REKOR], "OIDC issuer is 'https://github.com/login/oauth'"),
    (FulcioTrust(ROOTS, ISSUER, "someone@example.com"), [REKOR], "expected someone@example.com"),
    (FulcioTrust(ROOTS, ISSUER, EMAIL), [KEY2], "Rekor SET does not verify"),
    (FulcioTrust(ROOTS, ISSUER, EMAIL), [], "only checked with a Rekor bundle and key"),
])
def test_keyless_signature_fails_for_the_wrong_trust(trust, rekor, message):
    with pytest.raises(SignatureError, match=message):
        verify_signature(KEYLESS, [], KEYLESS_DIGEST, rekor_keys=rekor, fulcio=trust)


def test_a_foreign_root_does_not_anchor_the_certificate():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sigstore")])
    now = datetime.datetime.now(datetime.UTC)
    root = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=5000))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    foreign = root.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(SignatureError, match="does not chain to the given Fulcio roots"):
        verify_signature(KEYLESS, [], KEYLESS_DIGEST, rekor_keys=[REKOR], fulcio=FulcioTrust(foreign, ISSUER, EMAIL))


def test_a_tampered_rekor_set_fails():
    bundle = json.loads(KEY_REKOR.annotations[BUNDLE_ANNOTATION])
    bundle["Payload"]["integratedTime"] += 1
    forged = type(KEY_REKOR)(KEY_REKOR.media_type, KEY_REKOR.payload,
                             {**KEY_REKOR.annotations, BUNDLE_ANNOTATION: json.dumps(bundle)})
    with pytest.raises(SignatureError, match="Rekor SET does not verify"):
        verify_signature(forged, [KEY2], KEY_REKOR_DIGEST, rekor_keys=[REKOR])
    assert verify_signature(forged, [KEY2], KEY_REKOR_DIGEST).unchecked == (BUNDLE_ANNOTATION,)


def _serve_keyless(scripted) -> str:
    scripted.reset()
    manifest = (COSIGN_DATA / "fulcio-rekor" / "manifest.json").read_bytes()
    media_type = json.loads(manifest)["mediaType"]
    digest = scripted.image("keyless/app", "v1", manifest, media_type)
    config = b"{}"
    blob_digest = KEYLESS.digest
    signature_manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
        "layers": [{"mediaType": KEYLESS.media_type, "size": len(KEYLESS.payload), "digest": blob_digest,
                    "annotations": KEYLESS.annotations}]}).encode()
    scripted.image("keyless/app", attachment_tag(digest, "sig"), signature_manifest, OCI_MANIFEST,
                   blobs={blob_digest: KEYLESS.payload, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060"
                          "f61caaff8a": config})
    return digest


def test_cli_verifies_a_keyless_signature_from_a_registry(lamina, sign_scripted):
    digest = _serve_keyless(sign_scripted)
    image = f"{sign_scripted.host}/keyless/app:v1"
    common = ["--rekor-key", str(COSIGN_DATA / "rekor.pub"), "--ca-roots", str(COSIGN_DATA / "fulcio_v1.crt.pem"),
              "--certificate-oidc-issuer", ISSUER]
    payload, = json.loads(lamina.out("verify", *common, "--certificate-identity", EMAIL, image))
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest == KEYLESS_DIGEST
    err = lamina.fails("verify", *common, "--certificate-identity", "other@example.com", image)
    assert "expected other@example.com" in err


def test_policy_fulcio_requirement_accepts_the_keyless_signature(sign_scripted, tmp_path):
    digest = _serve_keyless(sign_scripted)
    requirement = {"type": "sigstoreSigned", "rekorPublicKeyPath": str(COSIGN_DATA / "rekor.pub"),
                   "fulcio": {"caPath": str(COSIGN_DATA / "fulcio_v1.crt.pem"), "oidcIssuer": ISSUER,
                              "subjectEmail": EMAIL},
                   "signedIdentity": {"type": "exactRepository",
                                      "dockerRepository": "192.168.64.2:5000/cosign-signed/fulcio-rekor-1"}}
    ref = parse_reference(f"{sign_scripted.host}/keyless/app:v1")
    with make_client(sign_scripted.host) as client:
        assert check_image(parse_policy(json.dumps({"default": [requirement]}).encode()), ref, digest,
                           registry=client) == "default"
        wrong = {**requirement, "fulcio": {**requirement["fulcio"], "subjectEmail": "x@example.com"}}
        with pytest.raises(PolicyError, match="expected x@example.com"):
            check_image(parse_policy(json.dumps({"default": [wrong]}).encode()), ref, digest, registry=client)
        no_rekor = {k: v for k, v in requirement.items() if k != "rekorPublicKeyPath"}
        with pytest.raises(PolicyError, match="fulcio needs a rekorPublicKeyPath"):
            check_image(parse_policy(json.dumps({"default": [no_rekor]}).encode()), ref, digest, registry=client)
