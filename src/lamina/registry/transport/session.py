"""Requests to one registry and its mirrors: endpoints, the ``/v2/`` probe, auth, redirects.

A :class:`RegistryTransport` knows where a registry lives (the scheme is found by probing
``GET /v2/``: HTTPS, then HTTP only when the registry is insecure, loopback asked over HTTP
first), answers auth challenges through :mod:`lamina.registry.auth` (a 401 is answered once
with a renewed token; credentials go only to the endpoint's own origin), follows blob
redirects, and runs a read on each mirror before the registry. It knows nothing of manifests
or blobs: that is the distribution client's (:mod:`lamina.registry.distribution`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from lamina import __version__
from lamina.errors import RegistryError
from lamina.registry.auth import Authenticator, Challenge, parse_www_authenticate
from lamina.registry.config import Endpoint, RegistryConfig, _is_loopback, canonical_host, split_host_port
from lamina.registry.credentials import Credential, CredentialStore
from lamina.registry.transport.connections import ConnectionPool
from lamina.registry.transport.errors import (
    RegistryResponseError,
    connection_error,
    display_name,
    response_error,
)
from lamina.registry.transport.failures import refused, unknown_host
from lamina.registry.transport.retry import RetryPolicy

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

T = TypeVar("T")


class CredentialSource(Protocol):
    """Anything that finds the credential for a registry host (a CredentialStore, or a fixed one)."""

    def get(self, server: str) -> Credential | None: ...


class EndpointState:
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


class RegistryTransport:
    """Authenticated, retried HTTP to one registry host (``docker.io``, ``127.0.0.1:5000``) and its mirrors.

    ``endpoints`` lists the mirrors for reads, then the registry itself (``registry``), which
    takes every write.
    """

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
        self.credentials: CredentialSource = credentials if credentials is not None else CredentialStore()
        self.user_agent = user_agent or f"lamina/{__version__} httpx/{httpx.__version__}"
        self.retry = RetryPolicy()
        self.connections = ConnectionPool(self.config, self.user_agent)
        self.endpoints = [self._state_for(endpoint) for endpoint in self.config.endpoints(self.host)]
        self.registry = self.endpoints[-1]

    def close(self) -> None:
        self.connections.close()

    def http_for(self, url: str, *, insecure: bool = False) -> httpx.Client:
        return self.connections.for_url(url, insecure=insecure)

    def _state_for(self, endpoint: Endpoint) -> EndpointState:
        lookup_host = self.host if not endpoint.mirror else endpoint.host
        credentials = self.credentials

        def credential() -> Credential | None:
            return credentials.get(lookup_host)

        authenticator = Authenticator(
            endpoint.host, credential, lambda url: self.http_for(url, insecure=endpoint.insecure)
        )
        return EndpointState(endpoint, authenticator)

    # -- naming and errors ------------------------------------------------------------------

    def display(self, repository: str, reference: str = "") -> str:
        """The name docker would print for ``repository`` (and a tag or digest) on this host."""
        return display_name(self.host, repository, reference)

    def error(
        self, state: EndpointState, response: httpx.Response, where: str, *, pulling: str | None = None
    ) -> RegistryResponseError:
        """An error answer as one line for a person (see :func:`errors.response_error`)."""
        return response_error(self.host, state.authenticator, response, where, pulling=pulling)

    def connection_error(self, state: EndpointState, exc: BaseException) -> RegistryError:
        host = state.endpoint.host
        return connection_error(host, exc, self.config.ca_hint(host))

    # -- endpoints ------------------------------------------------------------------------

    def resolve(self, state: EndpointState) -> str:
        """Find the base URL of an endpoint by probing ``/v2/`` (HTTPS, then HTTP if insecure)."""
        if state.base_url is not None:
            return state.base_url
        with state.lock:
            if state.base_url is not None:
                return state.base_url
            endpoint = state.endpoint
            if endpoint.scheme:
                schemes = [endpoint.scheme]
            elif endpoint.insecure and _is_loopback(split_host_port(endpoint.host)[0]):
                schemes = ["http", "https"]  # loopback registries are nearly always plain HTTP: ask that first
            else:
                schemes = ["https", "http"] if endpoint.insecure else ["https"]
            failure: httpx.TransportError | None = None
            for index, scheme in enumerate(schemes):
                base = f"{scheme}://{endpoint.host}{endpoint.path_prefix}"
                client = self.http_for(base, insecure=endpoint.insecure)
                # A mirror gets one try: the registry behind it can answer instead.
                retry = index == len(schemes) - 1 and not endpoint.mirror
                try:
                    response = self.retry.exchange(
                        client, lambda b=base, c=client: c.build_request("GET", f"{b}/v2/"), retry=retry
                    )
                except httpx.TransportError as exc:
                    failure = exc
                    if (refused(exc) and scheme == "http") or unknown_host(exc):
                        break  # a closed port refuses HTTPS too; a name that does not resolve, any scheme
                    continue
                response.close()
                if response.status_code == 400 and scheme == "http" and index < len(schemes) - 1:
                    continue  # an HTTPS server answering a plain request ("Client sent an HTTP request…")
                if response.status_code == 401:
                    state.challenge = preferred_challenge(response)
                elif response.status_code == 404:
                    raise RegistryError(f"{endpoint.host} does not offer the registry v2 API (GET /v2/ answered 404)")
                elif response.status_code >= 400:
                    raise self.error(state, response, f"{endpoint.host} API check")
                state.base_url = base
                return base
            assert failure is not None
            state.unreachable = endpoint.mirror
            raise self.connection_error(state, failure)

    def with_fallback(self, operation: Callable[[EndpointState], T]) -> T:
        """Run a read against each mirror in turn, then the registry; the registry's error wins."""
        for state in self.endpoints:
            if state.unreachable:
                continue
            try:
                return operation(state)
            except RegistryError:
                if state is self.registry:
                    raise
        raise AssertionError("unreachable")

    # -- requests -------------------------------------------------------------------------

    def request(
        self,
        state: EndpointState,
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
        base = self.resolve(state)
        url = path_or_url if "://" in path_or_url else base + path_or_url
        parts = urlsplit(url)
        same_origin = (parts.scheme, parts.netloc) == state.origin
        client = self.http_for(url, insecure=state.endpoint.insecure)
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
                response = self.retry.exchange(client, build, stream=stream, retry=retry)
            except httpx.TransportError as exc:
                raise self.connection_error(state, exc) from None
            if response.status_code != 401 or not same_origin or renew:
                return response
            challenge = preferred_challenge(response)
            if challenge is None:
                return response
            if challenge.scheme == "basic" and state.challenge is not None and state.challenge.scheme == "basic":
                return response  # the same password again would fail again
            state.challenge = challenge
            wanted |= challenge.scopes
            renew = True
            response.close()
        return response

    def follow(
        self,
        state: EndpointState,
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
            response = self.request(state, method, url, scopes=scopes, headers=headers, stream=stream)
            if response.status_code not in REDIRECT_STATUSES or "Location" not in response.headers:
                return response
            response.close()
            url = urljoin(str(response.url), response.headers["Location"])
        raise RegistryError(f"{state.endpoint.host} redirected {path} too many times")

    def get_outside_api(self, url: str, params: dict[str, str]) -> httpx.Response:
        """A retried GET of a URL beside the v2 API (Docker Hub's ``/v1/search``), without auth."""
        client = self.http_for(url, insecure=self.registry.endpoint.insecure)
        try:
            return self.retry.exchange(client, lambda: client.build_request("GET", url, params=params))
        except httpx.TransportError as exc:
            raise self.connection_error(self.registry, exc) from None


def preferred_challenge(response: httpx.Response) -> Challenge | None:
    """Bearer before Basic, when a registry offers both in its ``WWW-Authenticate`` headers."""
    challenges: list[Challenge] = []
    for value in response.headers.get_list("WWW-Authenticate"):
        challenges += parse_www_authenticate(value)
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return challenges[0] if challenges else None


__all__ = ["CredentialSource", "EndpointState", "RegistryTransport", "preferred_challenge"]
