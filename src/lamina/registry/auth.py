"""Registry authentication: the ``WWW-Authenticate`` challenge and the answers to it.

A registry answers ``GET /v2/`` (or any request) with 401 and a challenge: ``Basic realm=...``
or ``Bearer realm=...,service=...,scope=...``. Basic means "send the password each time";
Bearer means "fetch a short-lived token for these scopes from the realm" (distribution's token
spec), either with a GET (Basic credentials, or none for anonymous pulls) or, when we hold an
identity token, with the OAuth2 refresh-token POST. Tokens are cached per realm, service and
scope set and fetched again shortly before they expire.

Secrets never appear in messages: errors name the host, not what was sent to it.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lamina.errors import AuthError, RegistryError
from lamina.registry.credentials import Credential

if TYPE_CHECKING:
    import httpx


#: Sent as ``client_id`` to OAuth2 token endpoints, which use it only to tell clients apart.
CLIENT_ID = "lamina"
#: distribution's token spec: a token without ``expires_in`` lives 60 seconds.
DEFAULT_TOKEN_LIFETIME = 60.0


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header: a scheme and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes the registry asked for (space-separated when several)."""
        return frozenset(self.params.get("scope", "").split())


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parse every challenge in a ``WWW-Authenticate`` value.

    Values may be quoted, and quoted values may hold commas and escaped quotes
    (``scope="repository:a:pull,push"``), so the header cannot be split on commas.
    """
    challenges: list[Challenge] = []
    position = 0
    length = len(header)
    current: Challenge | None = None
    while position < length:
        while position < length and header[position] in " \t,":
            position += 1
        if position >= length:
            break
        start = position
        while position < length and header[position] not in " \t,=":
            position += 1
        token = header[start:position]
        probe = position
        while probe < length and header[probe] in " \t":
            probe += 1
        if probe < length and header[probe] == "=" and current is not None:
            position = probe + 1
            while position < length and header[position] in " \t":
                position += 1
            value, position = _read_value(header, position)
            current.params[token.lower()] = value
        else:
            # A token not followed by '=' starts a new challenge (the auth scheme).
            current = Challenge(scheme=token.lower(), params={})
            challenges.append(current)
    return challenges


def _read_value(header: str, position: int) -> tuple[str, int]:
    if position < len(header) and header[position] == '"':
        position += 1
        chars: list[str] = []
        while position < len(header) and header[position] != '"':
            if header[position] == "\\" and position + 1 < len(header):
                position += 1
            chars.append(header[position])
            position += 1
        return "".join(chars), position + 1
    start = position
    while position < len(header) and header[position] not in ",":
        position += 1
    return header[start:position].strip(), position


def repository_scope(repository: str, *actions: str) -> str:
    """``repository:<name>:pull,push`` (distribution's scope grammar)."""
    return f"repository:{repository}:{','.join(actions)}"


def basic_authorization(credential: Credential) -> str:
    pair = f"{credential.username}:{credential.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass
class _Token:
    value: str
    expires_at: float
    lifetime: float

    def fresh(self, now: float) -> bool:
        # Refresh a little early so a token does not expire between our check and its use.
        return now < self.expires_at - min(5.0, self.lifetime * 0.1)


class Authenticator:
    """Answers a registry's challenges for one registry host, caching Bearer tokens.

    ``credential`` is looked up lazily (it may run a credential helper) and at most once.
    ``http_for(url)`` gives the HTTP client for the token realm, which is often another host.
    Thread-safe: parallel blob transfers share one authenticator.
    """

    def __init__(
        self,
        host: str,
        credential_lookup: Callable[[], Credential | None],
        http_for: Callable[[str], httpx.Client],
    ) -> None:
        self.host = host
        self._credential_lookup = credential_lookup
        self._credential: Credential | None = None
        self._credential_loaded = False
        self._http_for = http_for
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, frozenset[str]], _Token] = {}
        self.token_requests = 0

    @property
    def credential(self) -> Credential | None:
        with self._lock:
            if not self._credential_loaded:
                self._credential = self._credential_lookup() or None
                self._credential_loaded = True
            return self._credential

    def authorization(self, challenge: Challenge | None, scopes: Iterable[str], *, renew: bool = False) -> str | None:
        """The ``Authorization`` header value for a request needing ``scopes``, or None.

        ``renew`` drops a cached token first (the registry refused it).
        """
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            credential = self.credential
            if credential and credential.password:
                return basic_authorization(credential)
            return None
        if challenge.scheme != "bearer":
            raise AuthError(f"{self.host} asks for unsupported authentication scheme '{challenge.scheme}'")
        wanted = frozenset(scopes)
        key = (challenge.realm, challenge.service, wanted)
        with self._lock:
            cached = self._tokens.get(key)
            if renew:
                self._tokens.pop(key, None)
            elif cached is not None and cached.fresh(time.monotonic()):
                return "Bearer " + cached.value
        token = self._fetch_token(challenge, wanted)
        with self._lock:
            self._tokens[key] = token
        return "Bearer " + token.value

    def unauthorized(self, *, pulling: str | None = None) -> AuthError:
        """The error for a final 401: wrong credentials, or none where some are needed."""
        if self.credential:
            return AuthError(f"unauthorized: check credentials for {self.host}")
        if pulling:
            return AuthError(
                f"pull access denied for {pulling}, repository does not exist or may require 'lamina login'"
            )
        return AuthError(f"unauthorized: authentication required (run 'lamina login {self.host}')")

    def login(self, challenge: Challenge) -> str | None:
        """Ask the token server for a token with our credential and no scope (docker login's check).

        ``offline_token=true`` invites the server to return a refresh token, which is returned so
        that it can be stored as an identity token instead of the password.
        """
        credential = self.credential
        params = [("client_id", CLIENT_ID), ("offline_token", "true")]
        if challenge.service:
            params.insert(0, ("service", challenge.service))
        headers = {"Authorization": basic_authorization(credential)} if credential else {}
        answer = self._call_realm("GET", challenge.realm, params=params, headers=headers)
        _token_from_answer(answer, self.host)
        refresh = answer.get("refresh_token")
        return refresh if isinstance(refresh, str) and refresh else None

    # -- the token endpoint ----------------------------------------------------------------

    def _fetch_token(self, challenge: Challenge, scopes: frozenset[str]) -> _Token:
        if not challenge.realm:
            raise RegistryError(f"{self.host} sent a Bearer challenge without a realm")
        credential = self.credential
        with self._lock:
            self.token_requests += 1
        if credential and credential.identity_token:
            answer = self._refresh_token_grant(challenge, scopes, credential.identity_token)
        else:
            answer = self._token_get(challenge, scopes, credential)
        return _token_from_answer(answer, self.host)

    def _token_get(self, challenge: Challenge, scopes: frozenset[str], credential: Credential | None) -> dict[str, Any]:
        params: list[tuple[str, str]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        params += [("scope", scope) for scope in sorted(scopes)]
        headers = {}
        if credential and credential.password:
            headers["Authorization"] = basic_authorization(credential)
        return self._call_realm("GET", challenge.realm, params=params, headers=headers)

    def _refresh_token_grant(self, challenge: Challenge, scopes: frozenset[str], refresh_token: str) -> dict[str, Any]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT_ID,
            "scope": " ".join(sorted(scopes)),
        }
        if challenge.service:
            form["service"] = challenge.service
        return self._call_realm("POST", challenge.realm, data=form)

    def _call_realm(self, method: str, realm: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        try:
            response = self._http_for(realm).request(method, realm, **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryError(f"cannot reach the token server of {self.host}: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise self.unauthorized()
        if response.status_code != 200:
            raise RegistryError(f"token server of {self.host} answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise RegistryError(f"token server of {self.host} sent a response that is not JSON") from None
        if not isinstance(answer, dict):
            raise RegistryError(f"token server of {self.host} sent an unexpected response")
        return answer


def _token_from_answer(answer: dict[str, Any], host: str) -> _Token:
    value = answer.get("token") or answer.get("access_token")
    if not value or not isinstance(value, str):
        raise RegistryError(f"token server of {host} sent no token")
    if not value.isascii() or not value.isprintable() or " " in value:
        # it goes into an Authorization header: a line break there would end it (and a token
        # must never show up in an error message, which the HTTP library's complaint would do)
        raise RegistryError(f"token server of {host} sent a token that cannot be used in an HTTP header")
    try:
        lifetime = float(answer.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
    except (TypeError, ValueError):
        lifetime = DEFAULT_TOKEN_LIFETIME
    if lifetime <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME
    now_wall = time.time()
    now = time.monotonic()
    remaining = lifetime
    issued_at = answer.get("issued_at")
    if isinstance(issued_at, str):
        try:
            issued = datetime.fromisoformat(issued_at.replace("Z", "+00:00")).timestamp()
            # Count from issued_at when it lies in the past, but never extend beyond the
            # lifetime measured from receipt: a skewed server clock must not keep a dead token.
            if issued <= now_wall:
                remaining = min(lifetime, lifetime - (now_wall - issued))
        except ValueError:
            pass
    return _Token(value=value, expires_at=now + max(remaining, 0.0), lifetime=lifetime)
