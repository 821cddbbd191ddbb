"""The simple-signing payload cosign signs: which manifest digest, under which name.

``{"critical": {"identity": {"docker-reference": NAME}, "image": {"docker-manifest-digest":
DIGEST}, "type": "cosign container image signature"}, "optional": {…} | null}``. The signature
covers the payload's exact bytes, so a payload is kept as the bytes that were signed and only
parsed to read what it claims.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from lamina.errors import SignatureError

SIGNATURE_TYPE = "cosign container image signature"
#: The media type of a signature layer (cosign's ``SimpleSigningMediaType``).
SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
#: Payloads are small JSON documents; a larger layer is not read.
MAX_PAYLOAD_SIZE = 256 * 1024

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$")


@dataclass(frozen=True, slots=True)
class SimpleSigningPayload:
    """What a payload claims (untrusted until its signature verified)."""

    docker_reference: str
    manifest_digest: str
    optional: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The payload as JSON-ready data (what ``lamina verify`` prints)."""
        return {"critical": {"identity": {"docker-reference": self.docker_reference},
                             "image": {"docker-manifest-digest": self.manifest_digest},
                             "type": SIGNATURE_TYPE},
                "optional": self.optional or None}


def make_payload(docker_reference: str, manifest_digest: str, annotations: dict[str, str] | None = None,
                 *, creator: str | None = None, timestamp: int | None = None) -> bytes:
    """The payload bytes to sign; ``annotations`` go to ``optional`` as cosign's ``-a k=v`` do."""
    if not _DIGEST_RE.match(manifest_digest):
        raise SignatureError(f"cannot sign {manifest_digest!r}: not a sha256/sha512 manifest digest")
    optional: dict[str, Any] = dict(annotations or {})
    if creator:
        optional["creator"] = creator
    if timestamp is not None or creator:
        optional["timestamp"] = int(time.time()) if timestamp is None else timestamp
    document = {"critical": {"identity": {"docker-reference": docker_reference},
                             "image": {"docker-manifest-digest": manifest_digest},
                             "type": SIGNATURE_TYPE},
                "optional": optional or None}
    return json.dumps(document, separators=(",", ":")).encode()


def parse_payload(data: bytes, *, where: str = "signature payload") -> SimpleSigningPayload:
    """Read a payload strictly: the three critical fields with the right types, nothing else there."""
    if len(data) > MAX_PAYLOAD_SIZE:
        raise SignatureError(f"{where}: {len(data)} bytes, over the {MAX_PAYLOAD_SIZE // 1024} KiB payload limit")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError(f"{where}: not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("critical"), dict):
        raise SignatureError(f"{where}: no 'critical' object")
    critical = document["critical"]
    if set(critical) != {"identity", "image", "type"}:
        raise SignatureError(f"{where}: 'critical' must hold exactly identity, image and type")
    if critical["type"] != SIGNATURE_TYPE:
        raise SignatureError(f"{where}: type {critical['type']!r} is not {SIGNATURE_TYPE!r}")
    identity, image = critical["identity"], critical["image"]
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(reference, str) or not isinstance(digest, str):
        raise SignatureError(f"{where}: identity.docker-reference and image.docker-manifest-digest must be strings")
    optional = document.get("optional")
    if optional is not None and not isinstance(optional, dict):
        raise SignatureError(f"{where}: 'optional' must be an object or null")
    return SimpleSigningPayload(reference, digest, optional or {})
