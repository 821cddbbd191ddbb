"""Real servers on loopback for the registry tests: distribution, a token server, a fault proxy.

Everything here is test scaffolding: ``docker-registry`` (distribution 2.8) in its four set-ups
(anonymous, htpasswd Basic, Bearer tokens, TLS), a small JWT token server implementing
distribution's token spec (signed with ``openssl``, so no Python crypto package is needed),
and a threaded HTTP proxy that injects faults between the client and a registry.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lamina.registry.client import RegistryClient
from lamina.registry.config import RegistryConfig
from lamina.registry.credentials import Credential

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
# the one account of the authenticating test registries (htpasswd and token)
USER = "lamina-user"
PASSWORD = "s3cret-Pa55word"
TOKEN_SERVICE = "lamina-test-registry"
TOKEN_ISSUER = "lamina-test-issuer"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def openssl(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["openssl", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


# -- htpasswd ------------------------------------------------------------------------------------


def bcrypt_line(username: str, password: str) -> str:
    """An htpasswd line with a bcrypt hash (the only kind distribution accepts), by apache's
    ``htpasswd`` (Debian's apache2-utils, in the Makefile's DEBS): one declared way, not a chain of
    fallbacks (the C library's crypt is gone in Python 3.13, the bcrypt package undeclared)."""
    tool = shutil.which("htpasswd")
    if tool is None:
        import pytest

        pytest.fail("htpasswd is not installed: apt-get install apache2-utils (make test installs it)")
    out = subprocess.run([tool, "-Bbn", "-C", "5", username, password], capture_output=True, text=True, check=True)
    return out.stdout.strip()


# -- TLS material ----------------------------------------------------------------------------------


@dataclass
class TLSMaterial:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls(directory: Path) -> TLSMaterial:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=lamina test CA", cwd=directory)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=directory)
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf", cwd=directory)
    openssl("req", *ec, "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=lamina client",
            cwd=directory)
    (directory / "client-ext.cnf").write_text("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.cert", "-days", "2", "-extfile", "client-ext.cnf", cwd=directory)
    return TLSMaterial(directory / "ca.crt", directory / "server.crt", directory / "server.key",
                       directory / "client.cert", directory / "client.key")


# -- the registry ----------------------------------------------------------------------------------


class RegistryServer:
    """``docker-registry serve`` on a free loopback port with its own storage directory."""

    def __init__(
        self, workdir: Path, *, auth_yaml: str = "", tls: TLSMaterial | None = None, require_client_cert: bool = False
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.host = f"127.0.0.1:{self.port}"
        tls_yaml = ""
        if tls:
            tls_yaml = f"  tls:\n    certificate: {tls.server_cert}\n    key: {tls.server_key}\n"
            if require_client_cert:
                tls_yaml += f"    clientcas:\n      - {tls.ca_cert}\n"
        config = (
            "version: 0.1\n"
            "log:\n  level: info\n  accesslog:\n    disabled: false\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {workdir / 'storage'}\n"
            "  delete:\n    enabled: true\n"
            "  cache:\n    blobdescriptor: inmemory\n"
            "http:\n"
            f"  addr: 127.0.0.1:{self.port}\n"
            "  secret: lamina-test-secret\n"
            f"{tls_yaml}"
            f"{auth_yaml}"
        )
        self.config_path = workdir / "config.yml"
        self.config_path.write_text(config)
        self.log_path = workdir / "registry.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def start(self) -> RegistryServer:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()[-2000:]}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry did not become ready: {self.log_path.read_text()[-2000:]}")

    def _answers(self) -> bool:
        try:
            if self.tls:
                import ssl

                context = ssl.create_default_context(cafile=str(self.tls.ca_cert))
                context.load_cert_chain(str(self.tls.client_cert), str(self.tls.client_key))
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    "127.0.0.1", self.port, timeout=1, context=context
                )
            else:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            conn.request("GET", "/v2/")
            status = conn.getresponse().status
            conn.close()
            return status in (200, 401)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def htpasswd_auth_yaml(path: Path) -> str:
    return f"auth:\n  htpasswd:\n    realm: lamina-test\n    path: {path}\n"


def token_auth_yaml(realm: str, cert_bundle: Path) -> str:
    return (
        "auth:\n  token:\n"
        f"    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n"
        f"    rootcertbundle: {cert_bundle}\n"
    )


# -- token server ----------------------------------------------------------------------------------


@dataclass
class TokenRequest:
    method: str
    scopes: list[str]
    user: str | None
    grant: str


class TokenServer:
    """distribution's token spec: GET with Basic (or anonymous) and the OAuth2 POST.

    Tokens are RS256 JWTs whose ``x5c`` header carries a self-signed certificate the registry
    trusts through ``rootcertbundle``. Authenticated users get every action they ask for;
    anonymous callers get none. ``requests`` records every hit so tests can count them.
    """

    def __init__(self, workdir: Path, users: dict[str, str], *, expires_in: int = 300) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "token.key", "-out", "token.crt",
                "-days", "2", "-subj", "/CN=lamina test token signer", cwd=workdir)
        self.key_path = workdir / "token.key"
        self.cert_path = workdir / "token.crt"
        der = openssl("x509", "-in", "token.crt", "-outform", "DER", cwd=workdir)
        self.x5c = base64.b64encode(der).decode()
        self.users = dict(users)
        self.expires_in = expires_in
        self.refresh_tokens: dict[str, str] = {}
        self.requests: list[TokenRequest] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> TokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def sign(self, subject: str, scopes: list[str]) -> str:
        now = int(time.time())
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": TOKEN_ISSUER, "sub": subject, "aud": TOKEN_SERVICE,
            "exp": now + self.expires_in, "nbf": now - 10, "iat": now,
            "jti": secrets.token_hex(8), "access": access if subject else [],
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = openssl("dgst", "-sha256", "-sign", str(self.key_path), cwd=self.workdir,
                            stdin=signing_input.encode())
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = urllib.parse.urlsplit(self.path).query
                params = urllib.parse.parse_qs(query)
                scopes = [s for value in params.get("scope", []) for s in value.split(" ") if s]
                user = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users.get(name) != password:
                        self._answer(401, {"details": "incorrect username or password"})
                        return
                    user = name
                with server.lock:
                    server.requests.append(TokenRequest("GET", scopes, user, "basic" if user else "anonymous"))
                answer: dict[str, object] = {
                    "token": server.sign(user or "", scopes), "expires_in": server.expires_in,
                    "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                if user and params.get("offline_token") == ["true"]:
                    refresh = secrets.token_urlsafe(16)
                    server.refresh_tokens[refresh] = user
                    answer["refresh_token"] = refresh
                self._answer(200, answer)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                grant = form.get("grant_type", [""])[0]
                scopes = [s for value in form.get("scope", []) for s in value.split(" ") if s]
                user = None
                if grant == "refresh_token":
                    user = server.refresh_tokens.get(form.get("refresh_token", [""])[0])
                elif grant == "password":
                    name = form.get("username", [""])[0]
                    if server.users.get(name) == form.get("password", [""])[0]:
                        user = name
                if user is None or form.get("client_id", [""])[0] == "":
                    self._answer(401, {"error": "invalid_grant"})
                    return
                with server.lock:
                    server.requests.append(TokenRequest("POST", scopes, user, grant))
                self._answer(200, {"access_token": server.sign(user, scopes), "expires_in": server.expires_in,
                                   "scope": " ".join(scopes)})

            def _answer(self, status: int, document: dict[str, object]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- fault-injecting proxy -------------------------------------------------------------------------


class _LoopbackHTTP:
    """A threaded HTTP server on a free 127.0.0.1 port, answering with ``self._handler()``."""

    def _listen(self) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Fault:
    """One fault: requests matching ``method`` and ``path`` (a regex) get ``action`` ``times`` times."""

    method: str
    path: str
    action: str  # drop_response | drop_request | cut_request | status | slow | tamper | redirect | paginate
    #              | add_headers | ignore_range (the upstream answers 200 with the whole body)
    #              | slow_request (the request body is read 64 KiB per ``delay``)
    #              | strip_query (forwarded without its query: a mount becomes a plain upload start)
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    after_bytes: int = 0
    delay: float = 0.0
    target: str = ""
    skip: int = 0  # let this many matching requests through first


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    fault: str | None


class FaultProxy(_LoopbackHTTP):
    """A threaded HTTP/1.1 reverse proxy to a loopback upstream that misbehaves on request.

    ``Host`` is passed through, so registry ``Location`` URLs point back at the proxy.
    ``inject_headers`` are added to every upstream request (to play pre-signed storage URLs).
    """

    def __init__(self, upstream_port: int, *, inject_headers: dict[str, str] | None = None) -> None:
        self.upstream_port = upstream_port
        self.inject_headers = dict(inject_headers or {})
        self.faults: list[Fault] = []
        self.seen: list[SeenRequest] = []
        self.lock = threading.Lock()
        self._listen()

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.seen.clear()

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def requests(self, method: str | None = None, path: str = "") -> list[SeenRequest]:
        with self.lock:
            return [r for r in self.seen if (method is None or r.method == method) and re.search(path, r.path)]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method in (method, "*") and re.search(fault.path, path):
                    if fault.skip:
                        fault.skip -= 1
                        continue
                    fault.times -= 1
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._proxy()

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def _proxy(self) -> None:
                fault = proxy._take_fault(self.command, self.path)
                with proxy.lock:
                    proxy.seen.append(SeenRequest(self.command, self.path, dict(self.headers.items()),
                                                  fault.action if fault else None))
                body = self._read_body(fault)
                if body is None:
                    return  # connection dropped while the request was coming in
                if fault and fault.action == "status":
                    self._plain(fault.status, fault.headers)
                    return
                if fault and fault.action == "redirect":
                    self._plain(307, {"Location": fault.target + self.path})
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if fault and fault.action == "ignore_range":
                    headers = {k: v for k, v in headers.items() if k.lower() != "range"}
                headers.update(proxy.inject_headers)
                path = self.path.split("?")[0] if fault and fault.action == "strip_query" else self.path
                upstream.request(self.command, path, body=body, headers=headers)
                response = upstream.getresponse()
                try:
                    if fault and fault.action == "paginate":
                        self._paginate(response)
                    else:
                        self._relay(response, fault)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client went away (interrupted, or gave up)
                upstream.close()

            def _read_body(self, fault: Fault | None) -> bytes | None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    return self._read_chunked()
                if fault and fault.action == "drop_request":
                    self.rfile.read(min(length, fault.after_bytes))
                    self._drop()
                    return None
                if fault and fault.action == "cut_request":
                    self._forward_partial(length, fault.after_bytes)
                    return None
                if fault and fault.action == "slow_request":
                    pieces, left = [], length
                    while left:
                        piece = self.rfile.read(min(left, 65536))
                        if not piece:
                            return None
                        pieces.append(piece)
                        left -= len(piece)
                        time.sleep(fault.delay)
                    return b"".join(pieces)
                return self.rfile.read(length) if length else b""

            def _forward_partial(self, length: int, forwarded: int) -> None:
                # The registry sees a request whose body stops part way, as after a network cut.
                upstream = socket.create_connection(("127.0.0.1", proxy.upstream_port))
                head = [f"{self.command} {self.path} HTTP/1.1"]
                head += [f"{k}: {v}" for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
                upstream.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
                upstream.sendall(self.rfile.read(min(length, forwarded)))
                time.sleep(0.1)
                upstream.close()
                time.sleep(0.1)
                self._drop()

            def _read_chunked(self) -> bytes:
                pieces = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(pieces)
                    pieces.append(self.rfile.read(size))
                    self.rfile.readline()

            def _relay(self, response: http.client.HTTPResponse, fault: Fault | None) -> None:
                self.send_response(response.status, response.reason)
                length_header = response.getheader("Content-Length")
                passthrough = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
                payload: bytes | None = None
                if length_header is None and self.command != "HEAD":
                    payload = response.read()
                    passthrough = [(k, v) for k, v in passthrough if k.lower() != "content-length"]
                    passthrough.append(("Content-Length", str(len(payload))))
                if fault and fault.action == "add_headers":
                    passthrough += list(fault.headers.items())
                for key, value in passthrough:
                    self.send_header(key, value)
                self.end_headers()
                if self.command == "HEAD":
                    return
                sent = 0
                pieces = [payload] if payload is not None else iter(lambda: response.read(65536), b"")
                for piece in pieces:
                    if fault and fault.action == "tamper" and sent == 0 and piece:
                        piece = bytes([piece[0] ^ 0xFF]) + piece[1:]
                    if fault and fault.action == "drop_response" and sent + len(piece) > fault.after_bytes:
                        self.wfile.write(piece[: fault.after_bytes - sent])
                        self.wfile.flush()
                        self._drop()
                        return
                    if fault and fault.action == "slow":
                        time.sleep(fault.delay)
                    self.wfile.write(piece)
                    sent += len(piece)
                self.wfile.flush()

            def _paginate(self, response: http.client.HTTPResponse) -> None:
                # distribution 2.8 lists every tag at once; newer registries page with n= and
                # last= and a Link header. Cut the real answer into such pages.
                document = json.loads(response.read())
                key = "tags" if "tags" in document else "repositories"
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                items = sorted(document.get(key) or [])
                last = query.get("last", [""])[0]
                if last:
                    items = [item for item in items if item > last]
                size = int(query.get("n", [str(len(items) or 1)])[0])
                page, more = items[:size], len(items) > size
                body = json.dumps({**document, key: page}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if more:
                    path = urllib.parse.urlsplit(self.path).path
                    following = urllib.parse.urlencode({"n": size, "last": page[-1]})
                    self.send_header("Link", f'<{path}?{following}>; rel="next"')
                self.end_headers()
                self.wfile.write(body)

            def _plain(self, status: int, headers: dict[str, str]) -> None:
                body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected fault"}]}).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drop(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        return Handler


_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                         "proxy-authorization", "proxy-authenticate"})


# -- a docker-credential helper for tests -------------------------------------------------------------


def write_credential_helper(directory: Path, name: str = "test") -> Path:
    """A ``docker-credential-<name>`` script keeping its secrets in a JSON file beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    store = directory / f"{name}-store.json"
    store.write_text("{}")
    script = directory / f"docker-credential-{name}"
    script.write_text(f"""#!/usr/bin/env python3
import json, sys
STORE = {str(store)!r}
action = sys.argv[1]
data = json.load(open(STORE))
if action == "store":
    entry = json.loads(sys.stdin.read())
    data[entry["ServerURL"]] = {{"Username": entry["Username"], "Secret": entry["Secret"]}}
    json.dump(data, open(STORE, "w"))
elif action == "get":
    server = sys.stdin.read().strip()
    if server not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": server, **data[server]}}))
elif action == "erase":
    server = sys.stdin.read().strip()
    if server not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    del data[server]
    json.dump(data, open(STORE, "w"))
elif action == "list":
    print(json.dumps({{k: v["Username"] for k, v in data.items()}}))
""")
    os.chmod(script, 0o755)
    return store


# -- client-side helpers --------------------------------------------------------------------------------


class FixedCredentials:
    """A credential source that always answers with one credential (or none)."""

    def __init__(self, credential: Credential | None) -> None:
        self.credential = credential

    def get(self, server: str) -> Credential | None:
        return self.credential


def make_client(host: str, credential: Credential | None = None, *, config: RegistryConfig | None = None) -> RegistryClient:
    client = RegistryClient(host, config=config or RegistryConfig(), credentials=FixedCredentials(credential))
    client.backoff_base = 0.05
    return client


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def opener(data: bytes):
    return lambda: io.BytesIO(data)


def push_blob(client: RegistryClient, repository: str, data: bytes, **kwargs) -> str:
    digest = digest_of(data)
    client.upload_blob(repository, digest, len(data), opener(data), **kwargs)
    return digest


def tiny_image(seed: str = "") -> tuple[bytes, bytes, bytes, str]:
    """A valid single-layer image: (layer tar.gz, config JSON, schema2 manifest JSON, diff_id).

    The layer holds one small file so skopeo (and docker) see a real image.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        content = f"hello from lamina {seed}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    raw_bytes = raw.getvalue()
    layer = gzip.compress(raw_bytes, mtime=0)
    diff_id = digest_of(raw_bytes)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello"], "Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "lamina test"}],
        },
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": digest_of(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": digest_of(layer),
                }
            ],
        },
        indent=3,
    ).encode()
    return layer, config, manifest, diff_id


def random_bytes(size: int, seed: int = 0) -> bytes:
    return os.urandom(size) if seed == 0 else hashlib.shake_256(str(seed).encode()).digest(size)


# -- a registry that answers what a test scripts -------------------------------------------------


@dataclass
class Answer:
    """One scripted HTTP answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedRegistry(_LoopbackHTTP):
    """A hand-written registry on loopback for hostile and faulty behaviour a real one never shows.

    ``/v2/`` answers 200; every other request is looked up in ``routes``: (method, path regex)
    → an Answer, or a function of the request path (with its query) returning one. Unknown
    paths get distribution's 404 JSON error. ``image`` scripts a whole image from its blobs.
    """

    def __init__(self) -> None:
        self.routes: list[tuple[str, str, Answer | object]] = []
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._listen()

    def reset(self) -> None:
        with self.lock:
            self.routes.clear()
            self.seen.clear()

    def route(self, method: str, path: str, answer: Answer | object) -> None:
        """Answer ``method`` requests whose path (without query) fully matches the regex ``path``."""
        with self.lock:
            self.routes.insert(0, (method, path, answer))

    def requests(self, path: str = "") -> list[tuple[str, str]]:
        with self.lock:
            return [(m, p) for m, p in self.seen if re.search(path, p)]

    def image(self, repository: str, tag: str, manifest: bytes, media_type: str,
              blobs: dict[str, bytes] | None = None) -> str:
        """Serve ``manifest`` under ``tag`` and its digest, and ``blobs`` by digest; returns the digest."""
        digest = digest_of(manifest)
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        for reference in (tag, digest):
            self.route("GET", f"/v2/{repository}/manifests/{re.escape(reference)}", Answer(200, manifest, headers))
            self.route("HEAD", f"/v2/{repository}/manifests/{re.escape(reference)}", Answer(200, manifest, headers))
        for blob_digest, data in (blobs or {}).items():
            self.blob(repository, blob_digest, data)
        return digest

    def blob(self, repository: str, digest: str, data: bytes) -> None:
        answer = Answer(200, data, {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest})
        for method in ("GET", "HEAD"):
            self.route(method, f"/v2/{repository}/blobs/{re.escape(digest)}", answer)

    def _answer(self, method: str, target: str) -> Answer:
        path = target.split("?", 1)[0]
        with self.lock:
            self.seen.append((method, target))
            routes = list(self.routes)
        for route_method, pattern, answer in routes:
            if route_method == method and re.fullmatch(pattern, path):
                return answer(target) if callable(answer) else answer  # type: ignore[operator]
        if path == "/v2/":
            return Answer(200, b"{}", {"Content-Type": "application/json"})
        body = json.dumps({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]})
        return Answer(404, body.encode(), {"Content-Type": "application/json"})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                answer = registry._answer(self.command, self.path)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in answer.headers:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(answer.body)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        return Handler


def image_documents(layers: list[bytes], *, config: bytes | None = None,
                    layer_type: str = "application/vnd.oci.image.layer.v1.tar+gzip",
                    diff_ids: list[str] | None = None) -> tuple[bytes, bytes]:
    """(config, OCI manifest) for gzip ``layers``; the diffIDs are of their inflated bytes."""
    if diff_ids is None:
        diff_ids = [digest_of(gzip.decompress(layer)) for layer in layers]
    if config is None:
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": [{"created_by": "test"}] * len(layers),
        }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                   "digest": digest_of(config)},
        "layers": [{"mediaType": layer_type, "size": len(layer), "digest": digest_of(layer)} for layer in layers],
    }).encode()
    return config, manifest
