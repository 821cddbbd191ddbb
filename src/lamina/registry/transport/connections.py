"""The keep-alive HTTP connections of one registry client, one per scheme, host and trust.

A client meets several hosts (the registry, its token server, the storage a blob redirects
to); each gets one ``httpx.Client`` that a thread pool shares for parallel blob transfers.
Trust comes from the registry config (``certs.d`` CAs, insecure registries); a connection that
does not verify TLS is said once per process, never silently.
"""

from __future__ import annotations

import ssl
import threading
from urllib.parse import urlsplit

import httpx  # the package's __init__ has kept httpx's command line (rich, pygments) out

from lamina.errors import warn
from lamina.registry.config import RegistryConfig

#: Bytes httpcore asks the socket for at a time (its default is 64 KiB).
READ_SIZE = 1 << 20
DEFAULT_TIMEOUT = httpx.Timeout(30.0, read=120.0, write=120.0)


class ConnectionPool:
    """One ``httpx.Client`` per (scheme, host, insecure), made on first use and shared by threads."""

    def __init__(self, config: RegistryConfig, user_agent: str, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
        self.config = config
        self.user_agent = user_agent
        self.timeout = timeout
        self._clients: dict[tuple[str, str, bool], httpx.Client] = {}
        self._lock = threading.Lock()

    def for_url(self, url: str, *, insecure: bool = False) -> httpx.Client:
        """The keep-alive client for the host of ``url`` (one per scheme, host and trust)."""
        parts = urlsplit(url)
        insecure = insecure or self.config.is_insecure(parts.netloc)
        key = (parts.scheme, parts.netloc, insecure)
        with self._lock:
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
                    note_unverified(parts.netloc)
            return client

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()


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


#: Hosts already named as unverified in this process.
UNVERIFIED_WARNED: set[str] = set()
_UNVERIFIED_LOCK = threading.Lock()


def note_unverified(host: str) -> None:
    """Say once per process that TLS is not verified for ``host``: never skip verification silently."""
    with _UNVERIFIED_LOCK:
        if host in UNVERIFIED_WARNED:
            return
        UNVERIFIED_WARNED.add(host)
    warn(f"TLS not verified for {host} (insecure registry)")
