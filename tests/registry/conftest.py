"""Registry fixtures: real distribution registries on loopback, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import (
    PASSWORD,
    USER,
    FaultProxy,
    RegistryServer,
    ScriptedRegistry,
    TokenServer,
    bcrypt_line,
    htpasswd_auth_yaml,
    make_client,
    make_tls,
    token_auth_yaml,
)

from lamina.registry.client import RegistryClient
from lamina.registry.config import RegistryConfig
from lamina.registry.credentials import CredentialStore


@pytest.fixture(scope="session", autouse=True)
def _registry_binary() -> None:
    if not Path("/usr/bin/docker-registry").exists():
        pytest.fail("docker-registry is not installed: run 'make test' as root (it installs Debian's docker-registry)")


@pytest.fixture(scope="session")
def anon_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    server = RegistryServer(tmp_path_factory.mktemp("anon")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    workdir = tmp_path_factory.mktemp("basic")
    htpasswd = workdir / "htpasswd"
    htpasswd.write_text(bcrypt_line(USER, PASSWORD) + "\n")
    server = RegistryServer(workdir, auth_yaml=htpasswd_auth_yaml(htpasswd)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    server = TokenServer(tmp_path_factory.mktemp("tokens"), {USER: PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory, token_server: TokenServer) -> Iterator[RegistryServer]:
    workdir = tmp_path_factory.mktemp("bearer")
    server = RegistryServer(workdir, auth_yaml=token_auth_yaml(token_server.realm, token_server.cert_path)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    workdir = tmp_path_factory.mktemp("tls")
    server = RegistryServer(workdir, tls=make_tls(workdir / "pki")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mtls_registry(tmp_path_factory: pytest.TempPathFactory, tls_registry: RegistryServer) -> Iterator[RegistryServer]:
    """A TLS registry that also requires a client certificate signed by the same test CA."""
    server = RegistryServer(tmp_path_factory.mktemp("mtls"), tls=tls_registry.tls, require_client_cert=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _session_proxy(anon_registry: RegistryServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(anon_registry.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def fault_proxy(_session_proxy: FaultProxy) -> FaultProxy:
    """The proxy in front of the anonymous registry, with no faults armed and an empty log."""
    _session_proxy.reset()
    return _session_proxy


@pytest.fixture(scope="session")
def _session_scripted() -> Iterator[ScriptedRegistry]:
    registry = ScriptedRegistry().start()
    yield registry
    registry.stop()


@pytest.fixture
def scripted(_session_scripted: ScriptedRegistry) -> ScriptedRegistry:
    """A registry answering only what the test scripts (hostile or faulty behaviour), nothing yet."""
    _session_scripted.reset()
    return _session_scripted


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CredentialStore:
    """An empty docker config directory of the test's own (``$DOCKER_CONFIG``)."""
    directory = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return CredentialStore()


@pytest.fixture
def config() -> RegistryConfig:
    return RegistryConfig()


@pytest.fixture
def anon_client(anon_registry: RegistryServer) -> Iterator[RegistryClient]:
    with make_client(anon_registry.host) as client:
        yield client
