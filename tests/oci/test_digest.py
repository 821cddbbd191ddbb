"""Digests are validated and verified."""

import hashlib

import pytest

from lamina.errors import DigestMismatchError, InvalidDigestError
from lamina.oci.digest import Hasher, validate_digest


def test_sha256_and_sha512_are_accepted():
    validate_digest("sha256:" + "0" * 64)
    validate_digest("sha512:" + "f" * 128)


@pytest.mark.parametrize("bad", ["sha256:" + "0" * 63, "sha256:" + "A" * 64, "md5:" + "0" * 32, "0" * 64, "sha256:"])
def test_malformed_digests_are_rejected(bad):
    with pytest.raises(InvalidDigestError):
        validate_digest(bad)


def test_hasher_verifies_digest_and_size():
    hasher = Hasher()
    hasher.update(b"hello")
    assert hasher.verify("sha256:" + hashlib.sha256(b"hello").hexdigest(), 5)
    with pytest.raises(DigestMismatchError, match="size mismatch"):
        hasher.verify(None, 6)
    with pytest.raises(DigestMismatchError, match="hashes to"):
        hasher.verify("sha256:" + "0" * 64)
