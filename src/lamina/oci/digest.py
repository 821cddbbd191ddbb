"""Content digests (``sha256:<hex>``) and streaming hashers that verify them."""

from __future__ import annotations

import re

from lamina.errors import DigestMismatchError, InvalidDigestError

# Algorithms the OCI image-spec registers, with the length of their hex encoding.
HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[a-f0-9]+")
_ID_PREFIX = re.compile(r"[a-f0-9]{1,64}")


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is a well-formed, supported digest, else raise InvalidDigestError."""
    algorithm, sep, encoded = digest.partition(":")
    if not sep:
        raise InvalidDigestError(f"invalid digest {digest!r}: missing algorithm prefix")
    length = HEX_LENGTHS.get(algorithm)
    if length is None:
        raise InvalidDigestError(f"unsupported digest algorithm {algorithm!r} in {digest!r}")
    if len(encoded) != length or not _HEX.fullmatch(encoded):
        raise InvalidDigestError(f"invalid digest {digest!r}: expected {length} lower-case hex digits")
    return digest


def is_digest(text: str) -> bool:
    try:
        validate_digest(text)
    except InvalidDigestError:
        return False
    return True


def split_digest(digest: str) -> tuple[str, str]:
    """``sha256:ab..`` → (``sha256``, ``ab..``) after validation."""
    validate_digest(digest)
    algorithm, _, encoded = digest.partition(":")
    return algorithm, encoded


def sha256_digest(data: bytes) -> str:
    import hashlib  # loaded when first needed: starting a container hashes nothing

    return "sha256:" + hashlib.sha256(data).hexdigest()


def short_id(digest: str, length: int = 12) -> str:
    """The short image ID docker prints: the first 12 hex digits."""
    return digest.partition(":")[2][:length] if ":" in digest else digest[:length]


def looks_like_id_prefix(text: str) -> bool:
    """Whether ``text`` could be an (abbreviated) image ID such as ``3f57d9401f8d``."""
    body = text[7:] if text.startswith("sha256:") else text
    return bool(_ID_PREFIX.fullmatch(body))


class Hasher:
    """Hashes a stream as it passes and checks it against an expected digest and size."""

    __slots__ = ("algorithm", "_hash", "size")

    def __init__(self, algorithm: str = "sha256"):
        if algorithm not in HEX_LENGTHS:
            raise InvalidDigestError(f"unsupported digest algorithm {algorithm!r}")
        self.algorithm = algorithm
        import hashlib

        self._hash = hashlib.new(algorithm)
        self.size = 0

    @classmethod
    def for_digest(cls, digest: str | None) -> Hasher:
        return cls(split_digest(digest)[0] if digest else "sha256")

    def update(self, chunk: bytes | memoryview) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    @property
    def digest(self) -> str:
        return f"{self.algorithm}:{self._hash.hexdigest()}"

    def verify(self, expected_digest: str | None, expected_size: int | None = None, what: str = "blob") -> str:
        """Raise DigestMismatchError unless the bytes seen match; return the digest."""
        if expected_size is not None and expected_size >= 0 and self.size != expected_size:
            raise DigestMismatchError(
                f"{what} {expected_digest or ''}: size mismatch, expected {expected_size} bytes, got {self.size}".replace(
                    "  ", " "
                )
            )
        actual = self.digest
        if expected_digest is not None and actual != expected_digest:
            raise DigestMismatchError(f"{what} {expected_digest}: content hashes to {actual}")
        return actual
