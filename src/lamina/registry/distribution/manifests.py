"""Manifests and indexes on a registry: fetch (digest-checked), HEAD, put, delete.

A manifest is kept exactly as the registry sent it: its digest is of those bytes, so it is
checked against the digest it was asked by, or the ``Docker-Content-Digest`` a registry
announces for a tag. Media types and digest rules are :mod:`lamina.oci`'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from lamina.errors import DigestMismatchError, RegistryError
from lamina.oci.digest import Hasher, is_digest, split_digest, validate_digest
from lamina.oci.mediatypes import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from lamina.registry.auth import repository_scope

if TYPE_CHECKING:
    import httpx

    from lamina.registry.transport import EndpointState, RegistryTransport

#: What a pull accepts, most specific first; the registry picks the stored form.
ALL_MANIFEST_TYPES: tuple[str, ...] = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
#: Manifests are small documents; a larger body is refused rather than held in memory.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024


class Manifest(NamedTuple):
    """A manifest exactly as the registry sent it, with the digest of those bytes."""

    data: bytes
    media_type: str
    digest: str


class ManifestInfo(NamedTuple):
    """What a HEAD on a manifest tells: enough to decide whether a pull is needed."""

    digest: str
    media_type: str
    size: int


def names_digest(reference: str) -> bool:
    """Whether a manifest reference is a digest rather than a tag (a tag never holds ``:``)."""
    return ":" in reference


def get_manifest(
    transport: RegistryTransport, repository: str, reference: str, accept: Sequence[str] = ALL_MANIFEST_TYPES
) -> Manifest:
    """Fetch a manifest or index by tag or digest and check the digest of its bytes.

    By digest, the bytes must hash to it; by tag, they must match ``Docker-Content-Digest``
    when the registry sends one. Either way the returned digest is of the exact bytes.
    """
    by_digest = names_digest(reference)
    if by_digest:
        validate_digest(reference)
    where = transport.display(repository, reference)

    def attempt(state: EndpointState) -> Manifest:
        response = transport.follow(
            state, "GET", f"/v2/{repository}/manifests/{reference}",
            [repository_scope(repository, "pull")], headers={"Accept": ", ".join(accept)}, stream=True,
        )
        try:
            if response.status_code != 200:
                raise transport.error(state, response, where, pulling=repository)
            data = read_limited(response, MAX_MANIFEST_SIZE, f"manifest {where}")
        finally:
            response.close()
        media_type = _media_type(response.headers.get("Content-Type", ""), data)
        announced = response.headers.get("Docker-Content-Digest", "").strip()
        expected = reference if by_digest else announced
        if expected and is_digest(expected):
            actual = digest_of(data, split_digest(expected)[0])
            if actual != expected:
                raise DigestMismatchError(f"manifest {where} has digest {actual}, expected {expected}")
            digest = expected if by_digest else digest_of(data)
        else:
            digest = digest_of(data)
        return Manifest(data, media_type, digest)

    return transport.with_fallback(attempt)


def head_manifest(
    transport: RegistryTransport, repository: str, reference: str, accept: Sequence[str] = ALL_MANIFEST_TYPES
) -> ManifestInfo | None:
    """The digest, media type and size of a manifest without its body; None if there is none."""

    def attempt(state: EndpointState) -> ManifestInfo | None:
        response = transport.request(
            state, "HEAD", f"/v2/{repository}/manifests/{reference}",
            scopes=[repository_scope(repository, "pull")], headers={"Accept": ", ".join(accept)},
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise transport.error(state, response, transport.display(repository, reference), pulling=repository)
        digest = response.headers.get("Docker-Content-Digest", "").strip()
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        size = int(response.headers.get("Content-Length") or 0)
        if not is_digest(digest):
            # Some registries omit the digest on HEAD: fall back to fetching the bytes.
            manifest = get_manifest(transport, repository, reference, accept)
            return ManifestInfo(manifest.digest, manifest.media_type, len(manifest.data))
        return ManifestInfo(digest, media_type, size)

    return transport.with_fallback(attempt)


def pushed_manifest_digest(transport: RegistryTransport, repository: str, reference: str) -> str | None:
    """The digest the registry itself (never a mirror) serves under a tag, asked before a push.

    Asks with the push scope the push needs anyway, so a token server is asked once.
    None when the tag is unknown, or the registry does not say.
    """
    state = transport.registry
    response = transport.request(
        state, "HEAD", f"/v2/{repository}/manifests/{reference}",
        scopes=[repository_scope(repository, "pull", "push")], headers={"Accept": ", ".join(ALL_MANIFEST_TYPES)},
    )
    response.close()
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise transport.error(state, response, transport.display(repository, reference))
    digest = response.headers.get("Docker-Content-Digest", "").strip()
    return digest if is_digest(digest) else None


def put_manifest(transport: RegistryTransport, repository: str, reference: str, data: bytes, media_type: str) -> str:
    """Upload a manifest under a tag or its digest; returns the digest of ``data``."""
    digest = digest_of(data)
    if names_digest(reference):
        if digest_of(data, split_digest(reference)[0]) != reference:
            raise DigestMismatchError(f"manifest bytes do not match the digest {reference} they are pushed under")
    state = transport.registry
    response = transport.request(
        state, "PUT", f"/v2/{repository}/manifests/{reference}",
        scopes=[repository_scope(repository, "pull", "push")],
        headers={"Content-Type": media_type}, body=data,
    )
    response.close()
    if response.status_code not in (200, 201, 202):
        raise transport.error(state, response, transport.display(repository, reference))
    announced = response.headers.get("Docker-Content-Digest", "").strip()
    if announced.startswith("sha256:") and announced != digest:
        raise DigestMismatchError(
            f"{transport.host} stored manifest {transport.display(repository, reference)} as {announced}, "
            f"expected {digest}"
        )
    return digest


def delete_manifest(transport: RegistryTransport, repository: str, digest: str) -> None:
    """Delete a manifest by digest (registries refuse deletion by tag)."""
    validate_digest(digest)
    state = transport.registry
    response = transport.request(
        state, "DELETE", f"/v2/{repository}/manifests/{digest}",
        scopes=[repository_scope(repository, "delete")],
    )
    response.close()
    if response.status_code not in (200, 202):
        raise transport.error(state, response, transport.display(repository, digest))


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """The digest of ``data`` with one of the algorithms :mod:`lamina.oci.digest` supports."""
    hasher = Hasher(algorithm)
    hasher.update(data)
    return hasher.digest


def read_limited(response: httpx.Response, limit: int, what: str) -> bytes:
    """A streamed body read whole, refused once it passes ``limit`` bytes (bounded memory)."""
    pieces: list[bytes] = []
    total = 0
    for piece in response.iter_bytes():
        total += len(piece)
        if total > limit:
            raise RegistryError(f"{what} is larger than {limit // (1024 * 1024)} MiB; refusing it")
        pieces.append(piece)
    return b"".join(pieces)


def _media_type(content_type: str, data: bytes) -> str:
    """The manifest's media type: the header, or the document's own ``mediaType`` when the header is generic."""
    media_type = content_type.split(";")[0].strip()
    if media_type and media_type not in ("application/json", "text/plain", "application/octet-stream"):
        return media_type
    try:
        declared = json.loads(data).get("mediaType")
    except (ValueError, AttributeError):
        declared = None
    return declared if isinstance(declared, str) and declared else media_type
