"""Helpers for the signing and policy tests: loopback registries (tests/registry's servers), tiny
images pushed straight through the registry client, and the containers/image cosign fixtures."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.registry.servers import (
    RegistryServer,
    ScriptedRegistry,
    TokenServer,
    make_client,
    push_blob,
    tiny_image,
    token_auth_yaml,
)

COSIGN_DATA = Path(__file__).parent / "data" / "cosign"
USER, PASSWORD = "signer", "sign-Pa55word"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def _need_registry() -> None:
    if not Path("/usr/bin/docker-registry").exists():
        require_tool("docker-registry", "docker-registry")


@pytest.fixture(scope="session")
def sign_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An anonymous ``docker-registry`` on loopback for the signing tests."""
    _need_registry()
    server = RegistryServer(tmp_path_factory.mktemp("sign-anon")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sign_token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    server = TokenServer(tmp_path_factory.mktemp("sign-tokens"), {USER: PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sign_token_registry(tmp_path_factory: pytest.TempPathFactory,
                        sign_token_server: TokenServer) -> Iterator[RegistryServer]:
    """A ``docker-registry`` that wants Bearer tokens from the test token server."""
    _need_registry()
    server = RegistryServer(tmp_path_factory.mktemp("sign-bearer"),
                            auth_yaml=token_auth_yaml(sign_token_server.realm, sign_token_server.cert_path)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sign_scripted() -> Iterator[ScriptedRegistry]:
    """A hand-scripted loopback registry, for signature data a real registry would not store."""
    registry = ScriptedRegistry().start()
    yield registry
    registry.stop()


def push_tiny(host: str, repository: str, tag: str, seed: str, credential=None) -> str:
    """Push a one-layer image under ``repository:tag``; returns its manifest digest."""
    layer, config, manifest, _ = tiny_image(seed)
    with make_client(host, credential) as client:
        push_blob(client, repository, layer)
        push_blob(client, repository, config)
        return client.put_manifest(repository, tag, manifest, DOCKER_MANIFEST)


def sha256_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def key_files(directory: Path, password: str) -> tuple[Path, Path]:
    """A fresh cosign key pair written as ``cosign.key`` (encrypted with ``password``) and
    ``cosign.pub`` in ``directory``: what each signing test module's ``keys`` fixture hands out."""
    from lamina.security.signing.keys import generate_key_pair

    pair = generate_key_pair(password)
    (directory / "cosign.key").write_bytes(pair.private_pem)
    (directory / "cosign.pub").write_bytes(pair.public_pem)
    return directory / "cosign.key", directory / "cosign.pub"
