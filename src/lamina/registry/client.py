"""A thin, streaming client for the OCI distribution API (and Docker Hub's v1 search).

One :class:`RegistryClient` talks to one registry host (and its mirrors for reads). It is the
one object the rest of lamina holds; the work is done below it, each part with one job:

- :mod:`lamina.registry.transport`: keep-alive connections per host (the registry, its token
  server, the storage a blob redirects to), TLS trust, the ``/v2/`` probe, auth challenges,
  retries with back-off, the fast failure of unreachable hosts, error answers as LaminaErrors;
- :mod:`lamina.registry.distribution`: manifests (digest-checked), blob downloads (hashed as
  they stream, resumed with ``Range``), uploads in docker's wire flow (HEAD, mount or POST,
  streamed or chunked PATCH, PUT ``?digest=``), tag and catalog pagination, search.

References and digests come in as plain strings (``repository`` without the host,
``"sha256:<hex>"``) so this module does not depend on the data model above it; media types
and digest rules are :mod:`lamina.oci`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO, Any, BinaryIO

from lamina.errors import AuthError
from lamina.oci.digest import validate_digest
from lamina.oci.mediatypes import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from lamina.registry.auth import Authenticator, Challenge
from lamina.registry.config import RegistryConfig
from lamina.registry.distribution import blobs, listing, manifests, uploads
from lamina.registry.distribution.blobs import Progress
from lamina.registry.distribution.manifests import (
    ALL_MANIFEST_TYPES,
    MAX_MANIFEST_SIZE,
    Manifest,
    ManifestInfo,
)
from lamina.registry.distribution.uploads import DEFAULT_CHUNK_SIZE, UPLOAD_SLICE, BlobPushOutcome
from lamina.registry.transport import (
    CredentialSource,
    EndpointState,
    RegistryAuthResponseError,
    RegistryResponseError,
    RegistryTransport,
)
from lamina.registry.transport.connections import UNVERIFIED_WARNED as _UNVERIFIED_WARNED
from lamina.registry.transport.failures import transport_reason as _transport_reason
from lamina.registry.transport.failures import unreachable as _unreachable

__all__ = [
    "ALL_MANIFEST_TYPES",
    "DEFAULT_CHUNK_SIZE",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "MAX_MANIFEST_SIZE",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "UPLOAD_SLICE",
    "BlobPushOutcome",
    "CredentialSource",
    "Manifest",
    "ManifestInfo",
    "Progress",
    "RegistryAuthResponseError",
    "RegistryClient",
    "RegistryResponseError",
    "_UNVERIFIED_WARNED",
    "_transport_reason",
    "_unreachable",
]


class RegistryClient:
    """Talks to one registry: manifests, blobs, tags, catalog, search, login checks.

    ``host`` is the registry as references name it (``docker.io``, ``ghcr.io``,
    ``127.0.0.1:5000``). Reads try the configured mirrors first; writes go to the registry.
    ``retry_attempts``, ``backoff_base``, ``max_backoff``, ``max_retry_after`` and
    ``max_pages`` may be set on an instance (tests shorten them).
    """

    #: Pages of a tags list or catalog followed at most (a registry's ``Link`` may never end).
    max_pages = listing.MAX_PAGES

    def __init__(
        self,
        host: str,
        *,
        config: RegistryConfig | None = None,
        credentials: CredentialSource | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.transport = RegistryTransport(host, config=config, credentials=credentials, user_agent=user_agent)
        self.host = self.transport.host
        self.config = self.transport.config
        self.user_agent = self.transport.user_agent

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def authenticator(self) -> Authenticator:
        """The registry's (not a mirror's) authenticator; its ``token_requests`` counts fetches."""
        return self.transport.registry.authenticator

    # The transport's retry policy and endpoints, under the names callers have always used.

    @property
    def retry_attempts(self) -> int:
        return self.transport.retry.attempts

    @retry_attempts.setter
    def retry_attempts(self, value: int) -> None:
        self.transport.retry.attempts = value

    @property
    def backoff_base(self) -> float:
        return self.transport.retry.backoff_base

    @backoff_base.setter
    def backoff_base(self, value: float) -> None:
        self.transport.retry.backoff_base = value

    @property
    def max_backoff(self) -> float:
        return self.transport.retry.max_backoff

    @max_backoff.setter
    def max_backoff(self, value: float) -> None:
        self.transport.retry.max_backoff = value

    @property
    def max_retry_after(self) -> float:
        return self.transport.retry.max_retry_after

    @max_retry_after.setter
    def max_retry_after(self, value: float) -> None:
        self.transport.retry.max_retry_after = value

    @property
    def _sleep(self) -> Callable[[float], None]:
        return self.transport.retry.sleep

    @_sleep.setter
    def _sleep(self, value: Callable[[float], None]) -> None:
        self.transport.retry.sleep = value

    @property
    def _registry(self) -> EndpointState:
        return self.transport.registry

    @property
    def _endpoints(self) -> list[EndpointState]:
        return self.transport.endpoints

    # -- API check and login ---------------------------------------------------------------

    def ping(self) -> Challenge | None:
        """``GET /v2/``: find the scheme, check the API is there, and learn the auth challenge."""
        self.transport.resolve(self.transport.registry)
        return self.transport.registry.challenge

    def check_login(self) -> str | None:
        """Check the stored credential the way ``docker login`` does; returns an identity token if one is issued."""
        state = self.transport.registry
        challenge = self.ping()
        authenticator = state.authenticator
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            response = self.transport.request(state, "GET", "/v2/", scopes=())
            response.close()
            if response.status_code == 401:
                raise authenticator.unauthorized()
            if response.status_code != 200:
                raise self.transport.error(state, response, "login")
            return None
        if challenge.scheme == "bearer":
            return authenticator.login(challenge)
        raise AuthError(f"{self.host} asks for unsupported authentication scheme '{challenge.scheme}'")

    # -- manifests -----------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str, accept: Sequence[str] = ALL_MANIFEST_TYPES) -> Manifest:
        """Fetch a manifest or index by tag or digest and check the digest of its bytes.

        By digest, the bytes must hash to it; by tag, they must match ``Docker-Content-Digest``
        when the registry sends one. Either way the returned digest is of the exact bytes.
        """
        return manifests.get_manifest(self.transport, repository, reference, accept)

    def head_manifest(
        self, repository: str, reference: str, accept: Sequence[str] = ALL_MANIFEST_TYPES
    ) -> ManifestInfo | None:
        """The digest, media type and size of a manifest without its body; None if there is none."""
        return manifests.head_manifest(self.transport, repository, reference, accept)

    def pushed_manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest the registry itself (never a mirror) serves under a tag, asked before a push.

        Asks with the push scope the push needs anyway, so a token server is asked once.
        None when the tag is unknown, or the registry does not say.
        """
        return manifests.pushed_manifest_digest(self.transport, repository, reference)

    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str) -> str:
        """Upload a manifest under a tag or its digest; returns the digest of ``data``."""
        return manifests.put_manifest(self.transport, repository, reference, data, media_type)

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest by digest (registries refuse deletion by tag)."""
        manifests.delete_manifest(self.transport, repository, digest)

    # -- blobs ---------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str) -> int | None:
        """The size of a blob the registry holds in ``repository``, or None."""
        validate_digest(digest)
        return blobs.blob_size(self.transport, self.transport.registry, repository, digest, push=False)

    def fetch_blob(
        self,
        repository: str,
        digest: str,
        sink: BinaryIO,
        *,
        expected_size: int | None = None,
        offset: int = 0,
        progress: Progress | None = None,
    ) -> int:
        """Stream a blob into ``sink``, verifying its size and digest; returns its size.

        ``offset`` > 0 continues a download whose first ``offset`` bytes ``sink`` already holds
        (it must then be readable and seekable: those bytes are hashed again). Dropped
        connections are resumed with ``Range``; a blob that does not hash to ``digest`` raises
        DigestMismatchError and the caller must discard what was written.
        """
        return blobs.fetch_blob(self.transport, repository, digest, sink,
                                expected_size=expected_size, offset=offset, progress=progress)

    def upload_blob(
        self,
        repository: str,
        digest: str,
        size: int,
        open_reader: Callable[[], IO[bytes]],
        *,
        mount_from: str | None = None,
        progress: Progress | None = None,
        chunk_size: int | None = None,
    ) -> BlobPushOutcome:
        """Make the registry hold a blob in ``repository``, the cheapest way it allows.

        HEAD first (already there), then a cross-repository mount from ``mount_from``, then an
        upload: one streamed PATCH, or chunks of ``chunk_size`` (or the registry's
        ``OCI-Chunk-Min-Length``). ``open_reader`` is called for each attempt, so a dropped
        upload can start over or resume at the offset the registry reports.
        """
        return uploads.upload_blob(self.transport, repository, digest, size, open_reader,
                                   mount_from=mount_from, progress=progress, chunk_size=chunk_size)

    # -- tags, catalog, search -----------------------------------------------------------

    def list_tags(self, repository: str, *, page_size: int | None = None) -> list[str]:
        """Every tag of ``repository``, following ``Link: <...>; rel="next"`` pages."""
        return listing.list_tags(self.transport, repository, page_size=page_size, max_pages=self.max_pages)

    def catalog(self, *, page_size: int | None = None) -> list[str]:
        """Every repository the registry lists in ``/v2/_catalog`` (distribution's extension)."""
        return listing.catalog(self.transport, page_size=page_size, max_pages=self.max_pages)

    def search_v1(self, term: str, limit: int = 25) -> list[dict[str, Any]] | None:
        """Docker Hub's ``/v1/search``; None when the registry has no search (distribution: 404)."""
        return listing.search_v1(self.transport, term, limit)
