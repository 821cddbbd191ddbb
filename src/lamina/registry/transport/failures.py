"""Why a connection to a registry failed, told from the exception chain httpx raises.

Split from the requests themselves so the rules are one list: which failures a retry cannot
mend (no such host, nothing listening, no route — docker's dialer reports these at once),
which are TLS problems (never retried: a certificate does not change), and the words docker's
Go resolver and dialer use for each.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

from lamina.registry.config import split_host_port

#: errno → the words of Go's dialer, for connections that cannot be made at all.
DIAL_FAILURES = {
    errno.ECONNREFUSED: "connect: connection refused",
    errno.ENETUNREACH: "connect: network is unreachable",
    errno.EHOSTUNREACH: "connect: no route to host",
}


def is_tls_error(exc: BaseException) -> bool:
    """Whether the failure is the TLS handshake's (an untrusted or broken certificate)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text


def tls_reason(exc: BaseException) -> str:
    """The TLS library's own words (``self-signed certificate``, ``unable to get local issuer``...)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) and seen.verify_message:
            return f"certificate verify failed: {seen.verify_message}"
        if isinstance(seen, ssl.SSLError) and seen.reason:
            return str(seen.reason).lower().replace("_", " ")
        seen = seen.__cause__ or seen.__context__
    return str(exc).split("\n")[0][:200] or type(exc).__name__


def transport_reason(exc: BaseException, host: str) -> str:
    """Why a connection failed, in the words docker's Go resolver and dialer use."""
    if unknown_host(exc):
        return f"lookup {split_host_port(host)[0]}: no such host"
    errno_value = os_errno(exc)
    if errno_value is not None and errno_value in DIAL_FAILURES:
        return DIAL_FAILURES[errno_value]
    text = str(exc).split("\n")[0]
    return text[:200] if text else type(exc).__name__


def refused(exc: BaseException) -> bool:
    """Whether a transport error is a refused TCP connection (no server on that port)."""
    return os_errno(exc) == errno.ECONNREFUSED or any("Connection refused" in str(e) for e in _chain(exc))


def unknown_host(exc: BaseException) -> bool:
    """Whether the registry's name did not resolve (``socket.gaierror``: no such host, no DNS)."""
    return any(isinstance(e, socket.gaierror) for e in _chain(exc)) or any(
        "Name or service not known" in str(e) or "No address associated" in str(e) for e in _chain(exc))


def unreachable(exc: BaseException) -> bool:
    """A failure that retrying will not mend: docker's dialer reports these at once."""
    return unknown_host(exc) or refused(exc) or os_errno(exc) in DIAL_FAILURES


def os_errno(exc: BaseException) -> int | None:
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
