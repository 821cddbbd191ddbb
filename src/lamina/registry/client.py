"""A thin, streaming client for the OCI distribution API (and Docker Hub's v1 search).

One :class:`RegistryClient` talks to one registry host (and its mirrors for reads). It keeps one
keep-alive ``httpx.Client`` per host it meets (the registry, its token server, the storage a blob
redirects to), so a thread pool can share it for parallel blob transfers. Every download is
hashed while it streams and resumed with ``Range`` after a dropped connection; uploads follow
docker's wire flow (HEAD, mount or POST, one streamed PATCH, PUT ``?digest=``) with chunked
PATCHes when the registry asks for them.

References and digests come in as plain strings (``repository`` without the host,
``"sha256:<hex>"``) so this module does not depend on the data model above it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import StrEnum
from typing import IO, Any, BinaryIO, NamedTuple, Protocol
from urllib.parse import urljoin, urlsplit

# httpx's own command line (httpx._main) imports rich and pygments at `import httpx` (~150 ms);
# lamina never uses it, and httpx falls back cleanly when that import fails.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]
import httpx  # noqa: E402

from lamina import __version__
from lamina.errors import AuthError, DigestMismatchError, InvalidDigestError, RegistryError, warn
from lamina.registry.auth import Authenticator, Challenge, parse_www_authenticate, repository_scope
from lamina.registry.config import DOCKER_HUB, Endpoint, RegistryConfig, canonical_host, split_host_port
from lamina.registry.credentials import Credential, CredentialStore

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
#: What a pull accepts, most specific first; the registry picks the stored form.
ALL_MANIFEST_TYPES: tuple[str, ...] = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)

#: Manifests are small documents; a larger body is refused rather than held in memory.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024
#: Upload bodies are generators of slices this big (measured fastest with httpx, libs.md §5).
UPLOAD_SLICE = 1024 * 1024
#: Chunk size when chunked upload is wanted but the registry names no minimum.
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_RE = re.compile(r"^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$")

#: ``progress(bytes_done, bytes_total_or_None)``, called as bytes move.
Progress = Callable[[int, int | None], None]


class CredentialSource(Protocol):
    """Anything that finds the credential for a registry host (a CredentialStore, or a fixed one)."""

    def get(self, server: str) -> Credential | None: ...


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


class BlobPushOutcome(StrEnum):
    """How a blob reached the registry; the CLI prints docker's words for each."""

    EXISTS = "exists"  # "Layer already exists"
    MOUNTED = "mounted"  # "Mounted from <repo>"
    UPLOADED = "uploaded"  # "Pushed"


class RegistryResponseError(RegistryError):
    """The registry answered with an error status; ``status`` and ``codes`` tell which."""

    def __init__(self, message: str, *, status: int, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.codes = tuple(codes)


class RegistryAuthResponseError(AuthError, RegistryResponseError):
    """The registry refused us (401/403): wrong credentials, none where some are needed, or no access."""


class _Dropped(Exception):
    """A transfer stopped part way (connection lost, short body); worth resuming."""


class _EndpointState:
    """What we learnt about one endpoint: its base URL (scheme found by probing) and challenge."""

    def __init__(self, endpoint: Endpoint, authenticator: Authenticator) -> None:
        self.endpoint = endpoint
        self.authenticator = authenticator
        self.base_url: str | None = None
        self.challenge: Challenge | None = None
        # A mirror that could not be reached is not asked again by this client.
        self.unreachable = False
        self.lock = threading.Lock()

    @property
    def origin(self) -> tuple[str, str]:
        parts = urlsplit(self.base_url or "")
        return parts.scheme, parts.netloc


class RegistryClient:
    """Talks to one registry: manifests, blobs, tags, catalog, search, login checks.

    ``host`` is the registry as references name it (``docker.io``, ``ghcr.io``,
    ``127.0.0.1:5000``). Reads try the configured mirrors first; writes go to the registry.
    """

    retry_attempts = 5
    backoff_base = 0.5
    max_backoff = 10.0
    max_retry_after = 60.0
    #: Pages of a tags list or catalog followed at most (a registry's ``Link`` may never end).
    max_pages = 10_000
    timeout = httpx.Timeout(30.0, read=120.0, write=120.0)

    def __init__(
        self,
        host: str,
        *,
        config: RegistryConfig | None = None,
        credentials: CredentialSource | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.host = canonical_host(host)
        self.config = config if config is not None else RegistryConfig.load()
        self._credentials: CredentialSource = credentials if credentials is not None else CredentialStore()
        self.user_agent = user_agent or f"lamina/{__version__} httpx/{httpx.__version__}"
        self._clients: dict[tuple[str, str, bool], httpx.Client] = {}
        self._clients_lock = threading.Lock()
        self._sleep = time.sleep
        endpoints = self.config.endpoints(self.host)
        self._endpoints = [self._state_for(ep) for ep in endpoints]
        self._registry = self._endpoints[-1]

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        with self._clients_lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def authenticator(self) -> Authenticator:
        """The registry's (not a mirror's) authenticator; its ``token_requests`` counts fetches."""
        return self._registry.authenticator

    # -- API check and login ---------------------------------------------------------------

    def ping(self) -> Challenge | None:
        """``GET /v2/``: find the scheme, check the API is there, and learn the auth challenge."""
        self._resolve(self._registry)
        return self._registry.challenge

    def check_login(self) -> str | None:
        """Check the stored credential the way ``docker login`` does; returns an identity token if one is issued."""
        state = self._registry
        challenge = self.ping()
        authenticator = state.authenticator
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            response = self._request(state, "GET", "/v2/", scopes=())
            response.close()
            if response.status_code == 401:
                raise authenticator.unauthorized()
            if response.status_code != 200:
                raise self._error(state, response, "login")
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
        by_digest = _is_digest(reference)
        if by_digest:
            _check_digest(reference)

        def attempt(state: _EndpointState) -> Manifest:
            response = self._follow(
                state, "GET", f"/v2/{repository}/manifests/{reference}",
                [repository_scope(repository, "pull")], headers={"Accept": ", ".join(accept)}, stream=True,
            )
            try:
                if response.status_code != 200:
                    raise self._error(state, response, self._display(repository, reference), pulling=repository)
                data = _read_limited(response, MAX_MANIFEST_SIZE, f"manifest {self._display(repository, reference)}")
            finally:
                response.close()
            media_type = _media_type(response.headers.get("Content-Type", ""), data)
            announced = response.headers.get("Docker-Content-Digest", "").strip()
            expected = reference if by_digest else announced
            if expected and _is_digest(expected):
                actual = _digest_of(data, expected.split(":", 1)[0])
                if actual != expected:
                    raise DigestMismatchError(
                        f"manifest {self._display(repository, reference)} has digest {actual}, expected {expected}"
                    )
                digest = expected if by_digest else _digest_of(data, "sha256")
            else:
                digest = _digest_of(data, "sha256")
            return Manifest(data, media_type, digest)

        return self._with_fallback(attempt)

    def head_manifest(
        self, repository: str, reference: str, accept: Sequence[str] = ALL_MANIFEST_TYPES
    ) -> ManifestInfo | None:
        """The digest, media type and size of a manifest without its body; None if there is none."""

        def attempt(state: _EndpointState) -> ManifestInfo | None:
            response = self._request(
                state, "HEAD", f"/v2/{repository}/manifests/{reference}",
                scopes=[repository_scope(repository, "pull")], headers={"Accept": ", ".join(accept)},
            )
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise self._error(state, response, self._display(repository, reference), pulling=repository)
            digest = response.headers.get("Docker-Content-Digest", "").strip()
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            size = int(response.headers.get("Content-Length") or 0)
            if not _is_digest(digest):
                # Some registries omit the digest on HEAD: fall back to fetching the bytes.
                manifest = self.get_manifest(repository, reference, accept)
                return ManifestInfo(manifest.digest, manifest.media_type, len(manifest.data))
            return ManifestInfo(digest, media_type, size)

        return self._with_fallback(attempt)

    def pushed_manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest the registry itself (never a mirror) serves under a tag, asked before a push.

        Asks with the push scope the push needs anyway, so a token server is asked once.
        None when the tag is unknown, or the registry does not say.
        """
        state = self._registry
        response = self._request(
            state, "HEAD", f"/v2/{repository}/manifests/{reference}",
            scopes=[repository_scope(repository, "pull", "push")], headers={"Accept": ", ".join(ALL_MANIFEST_TYPES)},
        )
        response.close()
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._error(state, response, self._display(repository, reference))
        digest = response.headers.get("Docker-Content-Digest", "").strip()
        return digest if _is_digest(digest) else None

    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str) -> str:
        """Upload a manifest under a tag or its digest; returns the digest of ``data``."""
        digest = _digest_of(data, "sha256")
        if _is_digest(reference):
            _check_digest(reference)
            if _digest_of(data, reference.split(":", 1)[0]) != reference:
                raise DigestMismatchError(f"manifest bytes do not match the digest {reference} they are pushed under")
        state = self._registry
        response = self._request(
            state, "PUT", f"/v2/{repository}/manifests/{reference}",
            scopes=[repository_scope(repository, "pull", "push")],
            headers={"Content-Type": media_type}, body=data,
        )
        response.close()
        if response.status_code not in (200, 201, 202):
            raise self._error(state, response, self._display(repository, reference))
        announced = response.headers.get("Docker-Content-Digest", "").strip()
        if announced.startswith("sha256:") and announced != digest:
            raise DigestMismatchError(
                f"{self.host} stored manifest {self._display(repository, reference)} as {announced}, expected {digest}"
            )
        return digest

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest by digest (registries refuse deletion by tag)."""
        _check_digest(digest)
        state = self._registry
        response = self._request(
            state, "DELETE", f"/v2/{repository}/manifests/{digest}",
            scopes=[repository_scope(repository, "delete")],
        )
        response.close()
        if response.status_code not in (200, 202):
            raise self._error(state, response, self._display(repository, digest))

    # -- blobs ---------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str) -> int | None:
        """The size of a blob the registry holds in ``repository``, or None."""
        _check_digest(digest)
        return self._blob_size(self._registry, repository, digest, push=False)

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
        _check_digest(digest)
        download = _BlobDownload(digest, sink, expected_size, progress)
        if offset:
            download.adopt_prefix(offset)
        last_error: RegistryError | None = None
        for state in self._endpoints:
            if state.unreachable:
                continue
            try:
                self._download(state, repository, download)
                return download.finish(self._display(repository, digest))
            except DigestMismatchError:
                raise
            except RegistryError as exc:
                last_error = exc
                if state is self._registry:
                    raise
        assert last_error is not None
        raise last_error

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
        _check_digest(digest)
        state = self._registry
        scopes = [repository_scope(repository, "pull", "push")]
        if self._blob_size(state, repository, digest, push=True) is not None:
            if progress:
                progress(size, size)
            return BlobPushOutcome.EXISTS
        session: _UploadSession | None = None
        if mount_from and mount_from != repository:
            mount_scopes = scopes + [repository_scope(mount_from, "pull")]
            response = self._request(
                state, "POST", f"/v2/{repository}/blobs/uploads/",
                scopes=mount_scopes, params={"mount": digest, "from": mount_from},
            )
            response.close()
            if response.status_code == 201:
                if progress:
                    progress(size, size)
                return BlobPushOutcome.MOUNTED
            if response.status_code != 202:
                raise self._error(state, response, self._display(repository, digest))
            session = self._session_from(response, repository)
        self._upload(state, repository, digest, size, open_reader, session, progress, chunk_size)
        return BlobPushOutcome.UPLOADED

    # -- tags, catalog, search -----------------------------------------------------------

    def list_tags(self, repository: str, *, page_size: int | None = None) -> list[str]:
        """Every tag of ``repository``, following ``Link: <...>; rel="next"`` pages."""

        def attempt(state: _EndpointState) -> list[str]:
            pages = self._paginate(
                state, f"/v2/{repository}/tags/list", [repository_scope(repository, "pull")],
                page_size, self._display(repository), pulling=repository,
            )
            tags = [tag for page in pages for tag in _listed(page, "tags", self._display(repository))]
            for tag in tags:
                if not _TAG_RE.fullmatch(tag):
                    # it becomes a URL path and a tag in the store: "../x" or "a/b" must not
                    raise RegistryError(f"{self.host} lists an invalid tag {tag[:140]!r} for {self._display(repository)}")
            return tags

        return self._with_fallback(attempt)

    def catalog(self, *, page_size: int | None = None) -> list[str]:
        """Every repository the registry lists in ``/v2/_catalog`` (distribution's extension)."""
        state = self._registry
        pages = self._paginate(state, "/v2/_catalog", ["registry:catalog:*"], page_size, f"{self.host} catalog")
        return [name for page in pages for name in _listed(page, "repositories", f"{self.host} catalog")]

    def search_v1(self, term: str, limit: int = 25) -> list[dict[str, Any]] | None:
        """Docker Hub's ``/v1/search``; None when the registry has no search (distribution: 404)."""
        if self.host == DOCKER_HUB:
            url = "https://index.docker.io/v1/search"
        else:
            self._resolve(self._registry)
            url = f"{self._registry.base_url}/v1/search"
        client = self._http_for(url, insecure=self._registry.endpoint.insecure)
        try:
            response = self._exchange(
                client, lambda: client.build_request("GET", url, params={"q": term, "n": str(limit)})
            )
        except httpx.TransportError as exc:
            raise self._transport_error(self._registry, exc) from None
        if response.status_code in (404, 405):
            return None
        if response.status_code != 200:
            raise self._error(self._registry, response, f"search {term!r}")
        try:
            results = response.json().get("results") or []
        except (ValueError, AttributeError):
            raise RegistryError(f"{self.host} sent a search answer that is not JSON") from None
        return [r for r in results if isinstance(r, dict)][:limit]

    # -- endpoints, connections, requests -----------------------------------------------

    def _state_for(self, endpoint: Endpoint) -> _EndpointState:
        lookup_host = self.host if not endpoint.mirror else endpoint.host
        credentials = self._credentials

        def credential() -> Credential | None:
            return credentials.get(lookup_host)

        authenticator = Authenticator(
            endpoint.host, credential, lambda url: self._http_for(url, insecure=endpoint.insecure)
        )
        return _EndpointState(endpoint, authenticator)

    def _http_for(self, url: str, *, insecure: bool = False) -> httpx.Client:
        """The keep-alive client for the host of ``url`` (one per scheme, host and trust)."""
        parts = urlsplit(url)
        insecure = insecure or self.config.is_insecure(parts.netloc)
        key = (parts.scheme, parts.netloc, insecure)
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                verify: ssl.SSLContext | bool = True
                if parts.scheme == "https":
                    verify = self.config.ssl_context(parts.netloc, verify=not insecure)
                else:  # plain HTTP: skip loading the CA bundle (≈130 ms) that httpx would do
                    verify = _plain_http_context()
                _widen_reads()
                client = httpx.Client(
                    verify=verify,
                    timeout=self.timeout,
                    follow_redirects=False,
                    headers={"User-Agent": self.user_agent},
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                )
                self._clients[key] = client
                if insecure:
                    _note_unverified(parts.netloc)
            return client

    def _resolve(self, state: _EndpointState) -> str:
        """Find the base URL of an endpoint by probing ``/v2/`` (HTTPS, then HTTP if insecure)."""
        if state.base_url is not None:
            return state.base_url
        with state.lock:
            if state.base_url is not None:
                return state.base_url
            endpoint = state.endpoint
            if endpoint.scheme:
                schemes = [endpoint.scheme]
            elif endpoint.insecure and _is_loopback_host(endpoint.host):
                schemes = ["http", "https"]  # loopback registries are nearly always plain HTTP: ask that first
            else:
                schemes = ["https", "http"] if endpoint.insecure else ["https"]
            failure: httpx.TransportError | None = None
            for index, scheme in enumerate(schemes):
                base = f"{scheme}://{endpoint.host}{endpoint.path_prefix}"
                client = self._http_for(base, insecure=endpoint.insecure)
                # A mirror gets one try: the registry behind it can answer instead.
                retry = index == len(schemes) - 1 and not endpoint.mirror
                try:
                    response = self._exchange(
                        client, lambda b=base, c=client: c.build_request("GET", f"{b}/v2/"), retry=retry
                    )
                except httpx.TransportError as exc:
                    failure = exc
                    if (_refused(exc) and scheme == "http") or _unknown_host(exc):
                        break  # a closed port refuses HTTPS too; a name that does not resolve, any scheme
                    continue
                response.close()
                if response.status_code == 400 and scheme == "http" and index < len(schemes) - 1:
                    continue  # an HTTPS server answering a plain request ("Client sent an HTTP request…")
                if response.status_code == 401:
                    state.challenge = _preferred_challenge(response)
                elif response.status_code == 404:
                    raise RegistryError(f"{endpoint.host} does not offer the registry v2 API (GET /v2/ answered 404)")
                elif response.status_code >= 400:
                    raise self._error(state, response, f"{endpoint.host} API check")
                state.base_url = base
                return base
            assert failure is not None
            state.unreachable = endpoint.mirror
            raise self._transport_error(state, failure)

    def _request(
        self,
        state: _EndpointState,
        method: str,
        path_or_url: str,
        *,
        scopes: Iterable[str],
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | Callable[[], Iterable[bytes]] | None = None,
        stream: bool = False,
        retry: bool = True,
    ) -> httpx.Response:
        """Send one API request with authentication, retrying transient failures.

        A 401 is answered once by renewing the token (taking in the scopes the new challenge
        names); a 401 after that is returned for the caller to report. Authorization is only
        sent to the endpoint's own origin, never to a host a redirect points at.
        """
        base = self._resolve(state)
        url = path_or_url if "://" in path_or_url else base + path_or_url
        parts = urlsplit(url)
        same_origin = (parts.scheme, parts.netloc) == state.origin
        client = self._http_for(url, insecure=state.endpoint.insecure)
        wanted = set(scopes)
        renew = False
        for _round in range(2):
            authorization = None
            if same_origin and state.challenge is not None:
                authorization = state.authenticator.authorization(state.challenge, wanted, renew=renew)

            def build(auth: str | None = authorization) -> httpx.Request:
                request_headers = dict(headers or {})
                if auth:
                    request_headers["Authorization"] = auth
                content = body() if callable(body) else body
                return client.build_request(method, url, params=params, headers=request_headers, content=content)

            try:
                response = self._exchange(client, build, stream=stream, retry=retry)
            except httpx.TransportError as exc:
                raise self._transport_error(state, exc) from None
            if response.status_code != 401 or not same_origin or renew:
                return response
            challenge = _preferred_challenge(response)
            if challenge is None:
                return response
            if challenge.scheme == "basic" and state.challenge is not None and state.challenge.scheme == "basic":
                return response  # the same password again would fail again
            state.challenge = challenge
            wanted |= challenge.scopes
            renew = True
            response.close()
        return response

    def _exchange(
        self,
        client: httpx.Client,
        build: Callable[[], httpx.Request],
        *,
        stream: bool = False,
        retry: bool = True,
    ) -> httpx.Response:
        """Send a request, retrying connection errors, 429 and 5xx with backoff (``Retry-After`` wins)."""
        attempts = self.retry_attempts if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                response = client.send(build(), stream=stream)
            except httpx.TransportError as exc:
                if attempt == attempts or _is_tls_error(exc) or (attempt == 1 and _unreachable(exc)):
                    raise  # no such host, no route, nothing listening: say so at once, like docker
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code in _RETRY_STATUSES and attempt < attempts:
                delay = self._retry_after(response) or self._backoff(attempt)
                response.close()
                self._sleep(delay)
                continue
            return response
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff_base * 2 ** (attempt - 1))

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After", "").strip()
        if not value:
            return None
        if value.isdigit():
            return min(float(value), self.max_retry_after)
        import email.utils  # an HTTP date: rare, and the module is slow to import

        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        return max(0.0, min(when - time.time(), self.max_retry_after))

    def _with_fallback(self, operation: Callable[[_EndpointState], Any]) -> Any:
        """Run a read against each mirror in turn, then the registry; the registry's error wins."""
        for state in self._endpoints:
            if state.unreachable:
                continue
            try:
                return operation(state)
            except RegistryError:
                if state is self._registry:
                    raise
        raise AssertionError("unreachable")

    def _paginate(
        self,
        state: _EndpointState,
        path: str,
        scopes: Sequence[str],
        page_size: int | None,
        where: str,
        *,
        pulling: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield each JSON page of a listing, following ``Link: <next>; rel="next"``."""
        url = path
        params = {"n": str(page_size)} if page_size else None
        visited: set[str] = set()
        for _page in range(self.max_pages):
            response = self._request(state, "GET", url, scopes=scopes, params=params)
            if response.status_code != 200:
                raise self._error(state, response, where, pulling=pulling)
            try:
                page = response.json()
            except ValueError:
                raise RegistryError(f"{self.host} sent a listing that is not JSON ({where})") from None
            if not isinstance(page, dict):
                raise RegistryError(f"{self.host} sent an unexpected listing ({where})")
            yield page
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            # The next URL carries its own n= and last=; it may be relative to the request.
            visited.add(str(response.url))
            url = urljoin(str(response.url), following)
            if url in visited:
                raise RegistryError(f"{self.host} paginates {where} in a loop (back to {url})")
            params = None
        raise RegistryError(f"{self.host} keeps paginating {where} after {self.max_pages} pages; giving up")

    # -- blob transfer internals -----------------------------------------------------------

    def _blob_size(self, state: _EndpointState, repository: str, digest: str, *, push: bool) -> int | None:
        actions = ("pull", "push") if push else ("pull",)
        response = self._follow(state, "HEAD", f"/v2/{repository}/blobs/{digest}", [repository_scope(repository, *actions)])
        response.close()
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._error(state, response, self._display(repository, digest))
        length = response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else 0

    def _follow(
        self,
        state: _EndpointState,
        method: str,
        path: str,
        scopes: Sequence[str],
        *,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """A request that follows redirects (blob storage), dropping credentials off-origin."""
        url = path
        for _hop in range(6):
            response = self._request(state, method, url, scopes=scopes, headers=headers, stream=stream)
            if response.status_code not in _REDIRECT_STATUSES or "Location" not in response.headers:
                return response
            response.close()
            url = urljoin(str(response.url), response.headers["Location"])
        raise RegistryError(f"{state.endpoint.host} redirected {path} too many times")

    def _download(self, state: _EndpointState, repository: str, download: _BlobDownload) -> None:
        path = f"/v2/{repository}/blobs/{download.digest}"
        scopes = [repository_scope(repository, "pull")]
        where = self._display(repository, download.digest)
        for attempt in range(1, self.retry_attempts + 1):
            headers = {"Accept-Encoding": "identity"}
            if download.received:
                headers["Range"] = f"bytes={download.received}-"
            try:
                response = self._follow(state, "GET", path, scopes, headers=headers, stream=True)
                try:
                    if response.status_code == 416 and download.received and download.complete():
                        return
                    if response.status_code not in (200, 206):
                        raise self._error(state, response, where, pulling=repository)
                    skip = download.received if response.status_code == 200 else _range_gap(response, download.received)
                    for piece in response.iter_raw():
                        if skip:
                            if len(piece) <= skip:
                                skip -= len(piece)
                                continue
                            piece, skip = piece[skip:], 0
                        download.write(piece, where)
                finally:
                    response.close()
                if not download.complete():
                    if download.digest_matches():  # all of the blob came: its announced size lies
                        raise DigestMismatchError(
                            f"blob {where} is {download.received} bytes, but its descriptor says "
                            f"{download.expected_size}")
                    raise _Dropped("short body")
                return
            except (httpx.TransportError, _Dropped):
                if attempt == self.retry_attempts:
                    raise RegistryError(
                        f"download of {where} from {state.endpoint.host} failed after {attempt} attempts "
                        f"({download.received} bytes received)"
                    ) from None
                self._sleep(self._backoff(attempt))

    def _session_from(self, response: httpx.Response, repository: str) -> _UploadSession:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{self.host} started an upload to {repository} without a Location")
        minimum = response.headers.get("OCI-Chunk-Min-Length", "")
        return _UploadSession(
            location=urljoin(str(response.url), location),
            min_chunk=int(minimum) if minimum.isdigit() else None,
        )

    def _start_upload(self, state: _EndpointState, repository: str, scopes: list[str]) -> _UploadSession:
        response = self._request(state, "POST", f"/v2/{repository}/blobs/uploads/", scopes=scopes)
        response.close()
        if response.status_code != 202:
            raise self._error(state, response, self._display(repository))
        return self._session_from(response, repository)

    def _upload(
        self,
        state: _EndpointState,
        repository: str,
        digest: str,
        size: int,
        open_reader: Callable[[], IO[bytes]],
        session: _UploadSession | None,
        progress: Progress | None,
        chunk_size: int | None,
    ) -> None:
        scopes = [repository_scope(repository, "pull", "push")]
        where = self._display(repository, digest)
        offset = 0
        for attempt in range(1, self.retry_attempts + 1):
            if session is None:
                session = self._start_upload(state, repository, scopes)
                offset = 0
            chunk = chunk_size
            if session.min_chunk:
                chunk = max(chunk or DEFAULT_CHUNK_SIZE, session.min_chunk)
            try:
                offset = self._send_blob_data(state, session, scopes, open_reader, offset, size, chunk, progress)
                self._complete_upload(state, session, scopes, digest, where)
                return
            except _Dropped:
                if attempt == self.retry_attempts:
                    raise RegistryError(f"upload of {where} to {self.host} failed after {attempt} attempts") from None
                self._sleep(self._backoff(attempt))
                session, offset = self._upload_status(state, session, scopes)

    def _send_blob_data(
        self,
        state: _EndpointState,
        session: _UploadSession,
        scopes: list[str],
        open_reader: Callable[[], IO[bytes]],
        offset: int,
        size: int,
        chunk: int | None,
        progress: Progress | None,
    ) -> int:
        """PATCH the bytes from ``offset`` on, as one stream or in chunks; returns the new offset."""
        while offset < size:
            end = size if chunk is None else min(size, offset + chunk)
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(end - offset)}
            if chunk is not None or offset:
                headers["Content-Range"] = f"{offset}-{end - 1}"
            start = offset

            def body(start: int = start, end: int = end) -> Iterator[bytes]:
                return _read_slices(open_reader, start, end, size, progress)

            try:
                response = self._request(
                    state, "PATCH", session.location, scopes=scopes, headers=headers, body=body, retry=False
                )
            except AuthError:
                raise
            except RegistryError as exc:
                raise _Dropped(str(exc)) from None
            response.close()
            if response.status_code in _RETRY_STATUSES:
                raise _Dropped(f"HTTP {response.status_code}")
            if response.status_code != 202:
                raise self._error(state, response, f"upload to {session.location}")
            session.advance(response)
            offset = end
        return offset

    def _complete_upload(
        self, state: _EndpointState, session: _UploadSession, scopes: list[str], digest: str, where: str
    ) -> None:
        url = str(httpx.URL(session.location).copy_merge_params({"digest": digest}))
        try:
            response = self._request(
                state, "PUT", url, scopes=scopes, headers={"Content-Length": "0"}, body=b"", retry=False
            )
        except AuthError:
            raise
        except RegistryError as exc:
            raise _Dropped(str(exc)) from None
        response.close()
        if response.status_code in (201, 204):
            return
        if response.status_code in _RETRY_STATUSES:
            raise _Dropped(f"HTTP {response.status_code}")
        error = self._error(state, response, where)
        if "DIGEST_INVALID" in error.codes or "SIZE_INVALID" in error.codes:
            raise DigestMismatchError(f"blob {where} was rejected by {self.host}: its content does not match the digest")
        raise error

    def _upload_status(
        self, state: _EndpointState, session: _UploadSession, scopes: list[str]
    ) -> tuple[_UploadSession | None, int]:
        """After a drop, ask the registry how much it kept; None means start a new upload."""
        try:
            response = self._request(state, "GET", session.location, scopes=scopes)
        except RegistryError:
            return None, 0
        response.close()
        if response.status_code != 204:
            return None, 0
        offset = _range_end(response.headers.get("Range", ""))
        if offset is None:
            return None, 0
        session.advance(response)
        return session, offset

    # -- errors --------------------------------------------------------------------------

    def _display(self, repository: str, reference: str = "") -> str:
        """The name docker would print: ``debian`` for docker.io/library/debian, else host/repo."""
        if self.host == DOCKER_HUB:
            name = repository.removeprefix("library/")
        else:
            name = f"{self.host}/{repository}"
        if not reference:
            return name
        return f"{name}@{reference}" if _is_digest(reference) else f"{name}:{reference}"

    def _error(
        self, state: _EndpointState, response: httpx.Response, where: str, *, pulling: str | None = None
    ) -> RegistryResponseError:
        """Turn an error answer into one line for a person."""
        try:
            body = response.read()
        except httpx.HTTPError:
            body = b""
        codes, text = _parse_error_body(body)
        status = response.status_code
        if status == 401:
            error = state.authenticator.unauthorized(pulling=self._display(pulling) if pulling else None)
            return RegistryAuthResponseError(str(error), status=status, codes=codes)
        if pulling is not None and (status == 403 or "NAME_UNKNOWN" in codes or "DENIED" in codes):
            kind = RegistryAuthResponseError if status in (401, 403) else RegistryResponseError
            return kind(
                f"pull access denied for {self._display(pulling)}, repository does not exist or may require "
                "'lamina login'",
                status=status, codes=codes,
            )
        if status == 403:
            return RegistryAuthResponseError(f"{text or 'denied'} ({where})", status=status, codes=codes)
        if "MANIFEST_UNKNOWN" in codes and pulling is not None:
            # docker's words: its errcode prints "code: message" even when the two read alike
            detail = _error_message(body, "MANIFEST_UNKNOWN") or "manifest unknown"
            return RegistryResponseError(f"manifest for {where} not found: manifest unknown: {detail}",
                                         status=status, codes=codes)
        if not text:
            text = f"HTTP {status} {response.reason_phrase}".strip()
        return RegistryResponseError(f"{text} ({where})", status=status, codes=codes)

    def _transport_error(self, state: _EndpointState, exc: httpx.TransportError) -> RegistryError:
        host = state.endpoint.host
        if _is_tls_error(exc):
            return RegistryError(
                f"TLS connection to {host} failed ({_tls_reason(exc)}); if it uses a private CA, put the CA "
                f"certificate in {self.config.ca_hint(host)}"
            )
        return RegistryError(f"cannot reach {host}: {_transport_reason(exc, host)}")


class _UploadSession:
    """An upload the registry has opened: where to send the next request."""

    def __init__(self, location: str, min_chunk: int | None) -> None:
        self.location = location
        self.min_chunk = min_chunk

    def advance(self, response: httpx.Response) -> None:
        # Every answer may move the upload to a new URL (distribution encodes its state in it).
        location = response.headers.get("Location")
        if location:
            self.location = urljoin(str(response.url), location)


class _BlobDownload:
    """The running state of one blob download, kept across resumed requests and mirrors."""

    def __init__(self, digest: str, sink: BinaryIO, expected_size: int | None, progress: Progress | None) -> None:
        self.digest = digest
        self.algorithm, self.expected_hex = digest.split(":", 1)
        self.hasher = hashlib.new(self.algorithm)
        self.sink = sink
        self.expected_size = expected_size
        self.progress = progress
        self.received = 0

    def adopt_prefix(self, offset: int) -> None:
        """Hash the first ``offset`` bytes already in the sink, then continue after them."""
        self.sink.seek(0)
        remaining = offset
        while remaining:
            piece = self.sink.read(min(remaining, UPLOAD_SLICE))
            if not piece:
                raise ValueError(f"the sink holds fewer than the {offset} bytes to resume after")
            self.hasher.update(piece)
            remaining -= len(piece)
        self.sink.seek(offset)
        self.received = offset

    def write(self, piece: bytes, where: str) -> None:
        if self.expected_size is not None and self.received + len(piece) > self.expected_size:
            raise DigestMismatchError(f"blob {where} is larger than its announced size {self.expected_size}")
        self.hasher.update(piece)
        self.sink.write(piece)
        self.received += len(piece)
        if self.progress:
            self.progress(self.received, self.expected_size)

    def complete(self) -> bool:
        return self.expected_size is None or self.received >= self.expected_size

    def digest_matches(self) -> bool:
        """Whether the bytes so far are the whole blob (told apart from a body cut short)."""
        return self.hasher.copy().hexdigest() == self.expected_hex

    def finish(self, where: str) -> int:
        actual = self.hasher.hexdigest()
        if actual != self.expected_hex:
            raise DigestMismatchError(
                f"blob {where} does not match its digest: got {self.algorithm}:{actual} "
                f"({self.received} bytes)"
            )
        return self.received


# -- helpers ------------------------------------------------------------------------------------


def _listed(page: dict[str, Any], key: str, where: str) -> list[str]:
    """The names under ``key`` of one listing page; anything but a list of strings is refused."""
    names = page.get(key) or []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise RegistryError(f"{where}: the registry's listing of {key} is not a list of names")
    return names


def _is_digest(reference: str) -> bool:
    return ":" in reference and "/" not in reference and reference.split(":", 1)[0] in {"sha256", "sha384", "sha512"}


def _check_digest(digest: str) -> None:
    if not _DIGEST_RE.match(digest):
        raise InvalidDigestError(f"invalid digest {digest!r}: expected sha256:<64 hex digits>")


def _digest_of(data: bytes, algorithm: str) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


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


def _read_limited(response: httpx.Response, limit: int, what: str) -> bytes:
    pieces: list[bytes] = []
    total = 0
    for piece in response.iter_bytes():
        total += len(piece)
        if total > limit:
            raise RegistryError(f"{what} is larger than {limit // (1024 * 1024)} MiB; refusing it")
        pieces.append(piece)
    return b"".join(pieces)


def _read_slices(
    open_reader: Callable[[], IO[bytes]], start: int, end: int, size: int, progress: Progress | None
) -> Iterator[bytes]:
    """Bytes ``start..end`` of a blob in 1 MiB slices, opened afresh for each attempt."""
    with open_reader() as reader:
        if start:
            if reader.seekable():
                reader.seek(start)
            else:
                skip = start
                while skip:
                    dropped = reader.read(min(skip, UPLOAD_SLICE))
                    if not dropped:
                        break
                    skip -= len(dropped)
        position = start
        while position < end:
            piece = reader.read(min(UPLOAD_SLICE, end - position))
            if not piece:
                raise DigestMismatchError(f"blob source ended at byte {position}, before its size {size}")
            position += len(piece)
            yield piece
            if progress:
                progress(position, size)


def _range_gap(response: httpx.Response, received: int) -> int:
    """For a 206, how many bytes to drop before ``received`` is reached (0 when the range fits)."""
    content_range = response.headers.get("Content-Range", "")
    match = re.match(r"bytes (\d+)-", content_range)
    if not match:
        return 0
    start = int(match.group(1))
    if start > received:
        raise RegistryError(f"registry resumed at byte {start}, after the {received} bytes we have")
    return received - start


def _range_end(value: str) -> int | None:
    """distribution's upload ``Range: 0-<last byte>`` → bytes held (``0-0`` read as none)."""
    match = re.fullmatch(r"(?:bytes=)?0-(\d+)", value.strip())
    if not match:
        return None
    last = int(match.group(1))
    return last + 1 if last > 0 else 0


def _parse_error_body(body: bytes) -> tuple[list[str], str]:
    """``{"errors":[{"code","message","detail"}]}`` → codes and one line (docker's ``code: message``)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return [], ""
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return [], ""
    codes: list[str] = []
    lines: list[str] = []
    for entry in errors:
        if not isinstance(entry, dict):
            continue
        code = str(entry.get("code") or "UNKNOWN")
        codes.append(code)
        label = code.lower().replace("_", " ")
        message = str(entry.get("message") or "").strip()
        lines.append(label if not message or message.lower() == label else f"{label}: {message}")
    return codes, "; ".join(lines)


def _error_message(body: bytes, code: str) -> str:
    """The registry's own message of the first error with ``code`` ('' when there is none)."""
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return ""
    for entry in errors if isinstance(errors, list) else []:
        if isinstance(entry, dict) and entry.get("code") == code:
            return " ".join(str(entry.get("message") or "").split())[:200]
    return ""


def _preferred_challenge(response: httpx.Response) -> Challenge | None:
    challenges: list[Challenge] = []
    for value in response.headers.get_list("WWW-Authenticate"):
        challenges += parse_www_authenticate(value)
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return challenges[0] if challenges else None


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text


def _tls_reason(exc: BaseException) -> str:
    """The TLS library's own words (``self-signed certificate``, ``unable to get local issuer``...)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) and seen.verify_message:
            return f"certificate verify failed: {seen.verify_message}"
        if isinstance(seen, ssl.SSLError) and seen.reason:
            return str(seen.reason).lower().replace("_", " ")
        seen = seen.__cause__ or seen.__context__
    return str(exc).split("\n")[0][:200] or type(exc).__name__


def _transport_reason(exc: httpx.TransportError, host: str) -> str:
    """Why a connection failed, in the words docker's Go resolver and dialer use."""
    if _unknown_host(exc):
        return f"lookup {split_host_port(host)[0]}: no such host"
    errno_value = _os_errno(exc)
    if errno_value is not None and errno_value in _DIAL_FAILURES:
        return _DIAL_FAILURES[errno_value]
    text = str(exc).split("\n")[0]
    return text[:200] if text else type(exc).__name__


#: Bytes httpcore asks the socket for at a time (its default is 64 KiB).
READ_SIZE = 1 << 20


def _widen_reads() -> None:
    """Have httpcore read the socket 1 MiB at a time instead of 64 KiB.

    A blob download is mostly that loop: each read goes through h11's parser and buffer copies
    in Python, so 16 times fewer reads cut the downloading thread's CPU by about a third (and
    the GIL hand-overs the inflating threads wait on). A class constant of httpcore's HTTP/1.1
    connection; left alone if a later httpcore does not have it.
    """
    from httpcore._sync.http11 import HTTP11Connection

    if getattr(HTTP11Connection, "READ_NUM_BYTES", READ_SIZE) < READ_SIZE:
        HTTP11Connection.READ_NUM_BYTES = READ_SIZE


_PLAIN_CONTEXT: ssl.SSLContext | None = None


def _plain_http_context() -> ssl.SSLContext:
    """An SSL context that is never used for a handshake (the endpoint is http://), made once."""
    global _PLAIN_CONTEXT
    if _PLAIN_CONTEXT is None:
        _PLAIN_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return _PLAIN_CONTEXT


def _is_loopback_host(host: str) -> bool:
    from lamina.registry.config import _is_loopback, split_host_port

    return _is_loopback(split_host_port(host)[0])


def _refused(exc: BaseException) -> bool:
    """Whether a transport error is a refused TCP connection (no server on that port)."""
    return _os_errno(exc) == errno.ECONNREFUSED or any("Connection refused" in str(e) for e in _chain(exc))


def _unknown_host(exc: BaseException) -> bool:
    """Whether the registry's name did not resolve (``socket.gaierror``: no such host, no DNS)."""
    return any(isinstance(e, socket.gaierror) for e in _chain(exc)) or any(
        "Name or service not known" in str(e) or "No address associated" in str(e) for e in _chain(exc))


def _unreachable(exc: BaseException) -> bool:
    """A failure that retrying will not mend: docker's dialer reports these at once."""
    return _unknown_host(exc) or _refused(exc) or _os_errno(exc) in _DIAL_FAILURES


#: errno → the words of Go's dialer, for connections that cannot be made at all.
_DIAL_FAILURES = {
    errno.ECONNREFUSED: "connect: connection refused",
    errno.ENETUNREACH: "connect: network is unreachable",
    errno.EHOSTUNREACH: "connect: no route to host",
}


def _os_errno(exc: BaseException) -> int | None:
    """The first positive OS errno in an exception's chain (httpx wraps httpcore wraps OSError)."""
    for current in _chain(exc):
        value = getattr(current, "errno", None)
        if isinstance(current, OSError) and not isinstance(current, socket.gaierror) and isinstance(value, int) and value > 0:
            return value
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


_UNVERIFIED_WARNED: set[str] = set()
_UNVERIFIED_LOCK = threading.Lock()


def _note_unverified(host: str) -> None:
    """Say once per process that TLS is not verified for ``host``: never skip verification silently."""
    with _UNVERIFIED_LOCK:
        if host in _UNVERIFIED_WARNED:
            return
        _UNVERIFIED_WARNED.add(host)
    warn(f"TLS not verified for {host} (insecure registry)")
