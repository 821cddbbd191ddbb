"""A registry's error answers, turned into LaminaError subclasses with one line for a person.

Registries explain a refusal in a body ``{"errors": [{"code", "message", "detail"}]}``
(distribution spec, "Error codes"); docker prints ``code: message`` from it and words of its
own for the common cases (pull access denied, manifest unknown). Those rules live here, so
every request of the distribution client reports the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lamina.errors import AuthError, RegistryError
from lamina.registry.config import DOCKER_HUB
from lamina.registry.transport.failures import is_tls_error, tls_reason, transport_reason

if TYPE_CHECKING:
    import httpx

    from lamina.registry.auth import Authenticator


class RegistryResponseError(RegistryError):
    """The registry answered with an error status; ``status`` and ``codes`` tell which."""

    def __init__(self, message: str, *, status: int, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.codes = tuple(codes)


class RegistryAuthResponseError(AuthError, RegistryResponseError):
    """The registry refused us (401/403): wrong credentials, none where some are needed, or no access."""


def display_name(host: str, repository: str, reference: str = "") -> str:
    """The name docker would print: ``debian`` for docker.io/library/debian, else host/repo."""
    if host == DOCKER_HUB:
        name = repository.removeprefix("library/")
    else:
        name = f"{host}/{repository}"
    if not reference:
        return name
    return f"{name}@{reference}" if ":" in reference else f"{name}:{reference}"


def response_error(
    host: str, authenticator: Authenticator, response: httpx.Response, where: str, *, pulling: str | None = None
) -> RegistryResponseError:
    """Turn an error answer into one line for a person.

    ``pulling`` (a repository) asks for docker's pull wording: "pull access denied for …".
    """
    import httpx

    try:
        body = response.read()
    except httpx.HTTPError:
        body = b""
    codes, text = parse_error_body(body)
    status = response.status_code
    if status == 401:
        error = authenticator.unauthorized(pulling=display_name(host, pulling) if pulling else None)
        return RegistryAuthResponseError(str(error), status=status, codes=codes)
    if pulling is not None and (status == 403 or "NAME_UNKNOWN" in codes or "DENIED" in codes):
        kind = RegistryAuthResponseError if status in (401, 403) else RegistryResponseError
        return kind(
            f"pull access denied for {display_name(host, pulling)}, repository does not exist or may require "
            "'lamina login'",
            status=status, codes=codes,
        )
    if status == 403:
        return RegistryAuthResponseError(f"{text or 'denied'} ({where})", status=status, codes=codes)
    if "MANIFEST_UNKNOWN" in codes and pulling is not None:
        # docker's words: its errcode prints "code: message" even when the two read alike
        detail = error_message(body, "MANIFEST_UNKNOWN") or "manifest unknown"
        return RegistryResponseError(f"manifest for {where} not found: manifest unknown: {detail}",
                                     status=status, codes=codes)
    if not text:
        text = f"HTTP {status} {response.reason_phrase}".strip()
    return RegistryResponseError(f"{text} ({where})", status=status, codes=codes)


def connection_error(host: str, exc: BaseException, ca_hint: str) -> RegistryError:
    """A request that never got an answer: a TLS failure (with where a private CA goes) or an unreachable host."""
    if is_tls_error(exc):
        return RegistryError(
            f"TLS connection to {host} failed ({tls_reason(exc)}); if it uses a private CA, put the CA "
            f"certificate in {ca_hint}"
        )
    return RegistryError(f"cannot reach {host}: {transport_reason(exc, host)}")


def parse_error_body(body: bytes) -> tuple[list[str], str]:
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


def error_message(body: bytes, code: str) -> str:
    """The registry's own message of the first error with ``code`` ('' when there is none)."""
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return ""
    for entry in errors if isinstance(errors, list) else []:
        if isinstance(entry, dict) and entry.get("code") == code:
            return " ".join(str(entry.get("message") or "").split())[:200]
    return ""
