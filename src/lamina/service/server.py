"""The socket server: HTTP/1.1 over a unix socket (or loopback TCP), docker's routing and errors.

The standard library's threading server is used on purpose: docker's clients hijack the
connection for attach and exec (``Upgrade: tcp`` → ``101 UPGRADED`` → a raw byte stream), which
a blocking handler owning its socket does naturally. Each request gets its own
:class:`lamina.api.Client` (the store's SQLite connection is per thread); the store's own
locks keep the service and CLI processes working on one store consistent.
"""

from __future__ import annotations

import json
import os
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from lamina.errors import ConflictError, InvalidReferenceError, LaminaError, UsageError

__all__ = ["API_VERSION", "MIN_API_VERSION", "ApiError", "Request", "Service", "route"]

# The handlers register themselves with ``route`` when their modules are imported
# (lamina.service.routes); :func:`lamina.service.make_service` does that before it makes a
# Service, so this module never imports them back.

API_VERSION = "1.41"
MIN_API_VERSION = "1.24"
MAX_JSON_BODY = 16 * 1024 * 1024  # a create or volume body is a few KiB; more is an attack
MAX_DRAIN = 64 * 1024 * 1024  # unread body read away after an error answer; beyond it, the connection closes
_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")

Handler = Callable[["Request"], Any]
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


class ApiError(LaminaError):
    """An error with docker's HTTP status, answered as ``{"message": …}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler; ``{name}`` in the pattern matches one path segment, ``{name:path}`` any
    rest (image names contain slashes: ``/images/library/busybox/json``)."""

    def register(handler: Handler) -> Handler:
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+?)", pattern)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        _ROUTES.append((method, re.compile(f"^{regex}$"), handler))
        return handler

    return register


def status_of(exc: BaseException) -> int:
    """docker's status code for a lamina error: 404 not found, 409 conflict, 400 bad input."""
    if isinstance(exc, ApiError):
        return exc.status
    name = type(exc).__name__
    if name.endswith("NotFoundError"):
        return 404
    if isinstance(exc, ConflictError) or name in ("AmbiguousContainerError",):
        return 409
    if isinstance(exc, (UsageError, InvalidReferenceError, ValueError)) or name in ("FlagError",):
        return 400
    return 500


class Request:
    """One HTTP request as a route handler sees it: path parameters, query, body, and the ways
    to answer (JSON, a chunked stream, a hijacked raw stream)."""

    def __init__(self, handler: _HttpHandler, path_params: dict[str, str], query: dict[str, list[str]]):
        self.http = handler
        self.service: Service = handler.server.service  # type: ignore[attr-defined]
        self.path = {k: unquote(v) for k, v in path_params.items()}
        self.query = query
        self.headers = handler.headers
        self.answered = False
        self._body_read = False
        self.body: _BodyReader | None = None
        self.api_version: tuple[int, ...] = _version_tuple(API_VERSION)  # the client's /vX.Y prefix

    # ----- input --------------------------------------------------------------------
    @property
    def client(self):
        """The lamina Client of this connection (opened at its first use, closed with it)."""
        return self.http.lamina_client()

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value, as Go's ``Query().Get`` reads it (docker-py sends ``dockerfile``
        twice for a Dockerfile outside the context: its name in the tar, then its text)."""
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """docker's booleans in a query: 1/true/True/yes; 0/false/empty."""
        value = self.arg(name)
        if value is None:
            return default
        return value.strip().lower() not in ("", "0", "false", "no")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, f"invalid value for {name}: {value!r} is not an integer") from None

    def json_arg(self, name: str) -> Any:
        value = self.arg(name)
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"invalid JSON in query parameter {name}") from None

    def filters(self) -> list[str]:
        """docker's ``filters`` JSON (``{"k": ["v"]}`` or the old ``{"k": {"v": true}}``) as the
        CLI's ``k=v`` strings."""
        document = self.json_arg("filters")
        if document is None:
            return []
        if not isinstance(document, dict):
            raise ApiError(400, "invalid filter: filters must be a JSON object")
        result = []
        for key, values in document.items():
            if isinstance(values, dict):
                values = [v for v, on in values.items() if on]
            elif isinstance(values, str):
                values = [values]
            for value in values or []:
                result.append(f"{key}={value}")
        return result

    def body_stream(self) -> _BodyReader:
        """The request body as a file-like object (Content-Length or chunked)."""
        self._body_read = True
        self.body = _BodyReader(self.http.rfile, self.headers)
        return self.body

    def json(self, default: Any = None) -> Any:
        """The body as JSON (bounded in size); 400 when malformed."""
        data = self.body_stream().read_all(MAX_JSON_BODY)
        if not data.strip():
            return default
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ApiError(400, f"invalid JSON body: {exc}") from None

    # ----- output -------------------------------------------------------------------
    def send_json(self, document: Any, status: int = 200) -> None:
        body = json.dumps(document).encode()
        self.send_bytes(body, status, "application/json")

    def send_bytes(self, body: bytes, status: int = 200, content_type: str = "text/plain; charset=utf-8",
                   headers: dict[str, str] | None = None) -> None:
        http = self.http
        http.send_response(status)
        http.send_header("Content-Type", content_type)
        http.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            http.send_header(key, value)
        http.end_headers()
        if http.command != "HEAD":
            http.wfile.write(body)
        self.answered = True

    def no_content(self, status: int = 204) -> None:
        http = self.http
        http.send_response(status)
        http.send_header("Content-Length", "0")
        http.end_headers()
        self.answered = True

    def stream(self, content_type: str = "application/json", status: int = 200) -> ChunkedWriter:
        """Start a chunked response; write to the returned writer, close it at the end."""
        http = self.http
        http.send_response(status)
        http.send_header("Content-Type", content_type)
        http.send_header("Transfer-Encoding", "chunked")
        http.end_headers()
        http.wfile.flush()
        self.answered = True
        return ChunkedWriter(http.wfile)

    def hijack(self, content_type: str = "application/vnd.docker.raw-stream") -> socket.socket:
        """Answer ``101 UPGRADED`` (or a bare 200 when the client did not ask to upgrade) and
        hand over the raw connection; the server closes it after the handler."""
        http = self.http
        upgrade = (self.headers.get("Upgrade") or "").lower() == "tcp"
        if upgrade:
            head = (f"HTTP/1.1 101 UPGRADED\r\nContent-Type: {content_type}\r\nConnection: Upgrade\r\n"
                    "Upgrade: tcp\r\n\r\n")
        else:
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n"
        http.wfile.write(head.encode())
        http.wfile.flush()
        http.close_connection = True
        self.answered = True
        return http.connection

    def close(self) -> None:
        """Nothing to release per request: the connection owns the Client."""


class ChunkedWriter:
    """HTTP/1.1 chunked transfer encoding; each write is flushed (docker's clients read
    progress and logs as they come)."""

    def __init__(self, wfile):
        self._wfile = wfile
        self.closed = False

    def write(self, data: bytes) -> int:
        if data:
            self._wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self._wfile.flush()
        return len(data)

    def json_line(self, document: Any) -> None:
        self.write(json.dumps(document).encode() + b"\r\n")

    def flush(self) -> None:
        self._wfile.flush()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._wfile.write(b"0\r\n\r\n")
            self._wfile.flush()


class _BodyReader:
    """A request body: exactly Content-Length bytes, or chunked transfer encoding decoded."""

    def __init__(self, rfile, headers):
        self._rfile = rfile
        self._chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        self._left = int(headers.get("Content-Length") or 0) if not self._chunked else 0
        self._done = not self._chunked and self._left == 0
        self.name = "request body"

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        if not self._chunked:
            want = self._left if size < 0 else min(size, self._left)
            data = self._rfile.read(want)
            self._left -= len(data)
            if not data or self._left == 0:
                self._done = True
            return data
        parts: list[bytes] = []
        got = 0
        while not self._done and (size < 0 or got < size):
            if self._left == 0:
                line = self._rfile.readline(1024)
                try:
                    self._left = int(line.split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    raise ApiError(400, "malformed chunked request body") from None
                if self._left == 0:
                    while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._done = True
                    break
            want = self._left if size < 0 else min(size - got, self._left)
            data = self._rfile.read(want)
            if not data:
                self._done = True
                break
            parts.append(data)
            got += len(data)
            self._left -= len(data)
            if self._left == 0:
                self._rfile.readline(16)  # the CRLF after a chunk
        return b"".join(parts)

    def read_all(self, limit: int) -> bytes:
        data = self.read(limit + 1)
        while len(data) <= limit:
            more = self.read(limit + 1 - len(data))
            if not more:
                break
            data += more
        if len(data) > limit:
            raise ApiError(413, f"request body larger than {limit} bytes")
        return data

    def drain(self, budget: int | None = None) -> bool:
        """Read the rest so the connection can serve the next request; False when more than
        ``budget`` bytes were left (then the connection is to be closed)."""
        try:
            while budget is None or budget > 0:
                data = self.read(65536)
                if not data:
                    return True
                if budget is not None:
                    budget -= len(data)
        except (ApiError, OSError, ValueError):
            return False
        return False


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lamina"
    sys_version = ""
    timeout = 600  # a client silent this long between requests is gone
    wbufsize = 65536  # headers and body leave in one write; streams and upgrades flush themselves

    def log_message(self, format: str, *args: Any) -> None:  # the library never prints
        return

    _client = None

    def lamina_client(self):
        """One Client (one store connection) per client connection: keep-alive requests reuse it."""
        if self._client is None:
            from lamina.api import Client

            self._client = Client(self.server.service.root)  # type: ignore[attr-defined]
        return self._client

    def handle(self) -> None:
        service: Service = self.server.service  # type: ignore[attr-defined]
        service.activity(+1)
        try:
            super().handle()
        except (ConnectionError, TimeoutError, OSError):
            pass  # a client that went away mid-request
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None
            service.activity(-1)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        match = _VERSION_PREFIX.match(path)
        if match:
            if _version_tuple(match.group(1)) < _version_tuple(MIN_API_VERSION):
                self._error(400, f"client version {match.group(1)} is too old. Minimum supported API version "
                                 f"is {MIN_API_VERSION}, please upgrade your client to a newer version")
                return
            path = match.group(2)
        api_version = _version_tuple(match.group(1)) if match else _version_tuple(API_VERSION)
        method = "GET" if self.command == "HEAD" and not path.startswith("/containers/") else self.command
        handler, params, allowed = None, {}, False
        for route_method, pattern, candidate in _ROUTES:
            found = pattern.match(path)
            if found:
                allowed = True
                if route_method == method or (route_method == "HEAD" and self.command == "HEAD"):
                    handler, params = candidate, found.groupdict()
                    break
        if handler is None:
            status = 405 if allowed else 404
            self._drain_body()
            self._error(status, "page not found" if status == 404 else "method not allowed")
            return
        request = Request(self, params, parse_qs(url.query, keep_blank_values=True))
        request.api_version = api_version
        try:
            handler(request)
            if not request.answered:
                request.no_content()
            if not self.close_connection:  # keep-alive: a body the handler ignored (docker-py
                # sends "{}" with a push) must not be read as the next request
                if not request._body_read:
                    self._drain_body()
                elif request.body is not None and not request.body.drain(MAX_DRAIN):
                    self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - every failure becomes docker's JSON error
            if isinstance(exc, LaminaError) or isinstance(exc, ValueError):
                status, message = status_of(exc), str(exc)
            else:
                status, message = 500, f"{type(exc).__name__}: {exc}"
            if not request.answered:
                if not request._body_read:
                    self._drain_body()
                elif request.body is not None and not request.body.drain(MAX_DRAIN):
                    self.close_connection = True
                self._error(status, message)
            else:
                self.close_connection = True
        finally:
            request.close()

    def _drain_body(self) -> None:
        """Read what the client sent, so the connection can serve the next request."""
        try:
            reader = _BodyReader(self.rfile, self.headers)
        except ValueError:
            self.close_connection = True
            return
        if not reader.drain(MAX_DRAIN):
            self.close_connection = True

    def _error(self, status: int, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        connection, _ = self.socket.accept()
        return connection, ("local", 0)


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Service:
    """The Docker Engine API for one lamina store, listening on ``uri`` (``unix://PATH`` or
    ``tcp://HOST:PORT``); :meth:`serve` blocks until :meth:`shutdown` or ``idle_seconds`` without
    a connection (0: never)."""

    def __init__(self, uri: str, root: str | os.PathLike[str] | None = None, *, idle_seconds: float = 5.0):
        self.root = Path(root) if root is not None else None
        self.uri = uri
        self.idle_seconds = idle_seconds
        self._active = 0
        self._last_activity = time.monotonic()
        self._lock = threading.Lock()
        self.socket_path: Path | None = None
        self.server = self._listen(uri)
        self.server.service = self  # type: ignore[attr-defined]
        self.exec_sessions: dict[str, Any] = {}  # exec ID → lamina.service.exec.ExecSession
        self.pending_attach: dict[str, list[Any]] = {}  # container ID → attach sessions before start
        self.exit_codes: dict[str, int | None] = {}  # container ID → exit code seen by an attached start
        self.removed_ghosts: dict[str, tuple[float, dict]] = {}  # --rm containers just gone: ID → (when, inspect)
        from lamina.service.events import EventBus

        self.events = EventBus()

    def _listen(self, uri: str):
        if uri.startswith("unix://"):
            path = Path(uri.removeprefix("unix://"))
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_socket():
                path.unlink()
            old_umask = os.umask(0o117)  # the socket is born 0660: no moment open to everyone
            try:
                server = _UnixServer(os.fspath(path), _HttpHandler)
            finally:
                os.umask(old_umask)
            os.chmod(path, 0o660)
            self.socket_path = path
            return server
        if uri.startswith("tcp://"):
            host, _, port = uri.removeprefix("tcp://").rpartition(":")
            if not host or not port.isdigit():
                raise UsageError(f"invalid service address {uri}: want tcp://HOST:PORT")
            return _TcpServer((host.strip("[]"), int(port)), _HttpHandler)
        raise UsageError(f"invalid service address {uri}: want unix://PATH or tcp://HOST:PORT")

    @property
    def address(self) -> str:
        if self.socket_path is not None:
            return f"unix://{self.socket_path}"
        host, port = self.server.server_address[:2]
        return f"tcp://{host}:{port}"

    def activity(self, delta: int) -> None:
        with self._lock:
            self._active += delta
            self._last_activity = time.monotonic()

    def serve(self) -> None:
        if self.idle_seconds > 0:
            threading.Thread(target=self._idle_watch, daemon=True).start()
        try:
            self.server.serve_forever(poll_interval=0.2)
        finally:
            self.server.server_close()
            if self.socket_path is not None:
                self.socket_path.unlink(missing_ok=True)

    def shutdown(self) -> None:
        self.server.shutdown()

    def _idle_watch(self) -> None:
        while True:
            time.sleep(min(1.0, self.idle_seconds / 4))
            with self._lock:
                idle = self._active == 0 and time.monotonic() - self._last_activity >= self.idle_seconds
            if idle:
                self.server.shutdown()
                return


def frames(stream: str, data: bytes) -> bytes:
    """docker's multiplexed stream frame: [stream, 0, 0, 0, size (big-endian u32)] + data."""
    kind = {"stdin": 0, "stdout": 1, "stderr": 2}[stream]
    return bytes((kind, 0, 0, 0)) + len(data).to_bytes(4, "big") + data


def client_gone(connection: socket.socket, *, half_close_ok: bool = False) -> bool:
    """Whether the peer closed the connection, without consuming data. ``half_close_ok``: a
    hijacked stream whose client shut down only its sending side (docker's CLI does that when
    it has no stdin to send) is still there to read the output; only a hang-up counts."""
    import select

    try:
        poller = select.poll()
        poller.register(connection, select.POLLIN | select.POLLHUP | select.POLLERR | select.POLLRDHUP)
        events = poller.poll(0)
        if not events:
            return False
        mask = events[0][1]
        if mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            return True
        if half_close_ok:
            return False
        return bool(mask & select.POLLIN) and connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def poll_until(condition: Callable[[], bool], connection: socket.socket, interval: float = 0.1) -> bool:
    """Wait for ``condition``; False as soon as the client went away."""
    while not condition():
        if client_gone(connection):
            return False
        time.sleep(interval)
    return True


def iter_chunks(reader, size: int = 65536) -> Iterator[bytes]:
    while True:
        data = reader.read(size)
        if not data:
            return
        yield data
