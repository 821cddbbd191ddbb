"""docker's config.json and credential helpers, read and written the way docker does."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from servers import write_credential_helper

from lamina.errors import RegistryError
from lamina.registry.credentials import (
    DOCKER_HUB_SERVER_KEY,
    Credential,
    CredentialStore,
    default_docker_config_path,
    server_key,
)


@pytest.mark.parametrize(
    ("server", "key"),
    [
        ("docker.io", DOCKER_HUB_SERVER_KEY),
        ("index.docker.io", DOCKER_HUB_SERVER_KEY),
        ("registry-1.docker.io", DOCKER_HUB_SERVER_KEY),
        ("https://index.docker.io/v1/", DOCKER_HUB_SERVER_KEY),
        ("ghcr.io", "ghcr.io"),
        ("https://ghcr.io", "ghcr.io"),
        ("http://registry.local:5000/v2/", "registry.local:5000"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
    ],
)
def test_server_keys_are_normalised_like_docker(server: str, key: str) -> None:
    assert server_key(server) == key


def test_config_path_follows_docker_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    assert default_docker_config_path() == tmp_path / "dc" / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_docker_config_path() == tmp_path / ".docker" / "config.json"


def test_store_writes_docker_format_with_mode_0600_and_keeps_unknown_keys(docker_config: CredentialStore) -> None:
    docker_config.path.parent.mkdir(parents=True)
    docker_config.path.write_text(json.dumps({
        "auths": {"other.example": {"auth": base64.b64encode(b"a:b").decode(), "email": "x@y"}},
        "psFormat": "table {{.ID}}",
        "proxies": {"default": {"httpProxy": "http://p:3128"}},
    }))
    docker_config.store("docker.io", Credential("alice", "pa:ss"))
    document = json.loads(docker_config.path.read_text())
    assert document["auths"][DOCKER_HUB_SERVER_KEY] == {"auth": base64.b64encode(b"alice:pa:ss").decode()}
    assert document["auths"]["other.example"]["email"] == "x@y"
    assert document["psFormat"] == "table {{.ID}}" and document["proxies"]["default"]["httpProxy"]
    assert stat.S_IMODE(os.stat(docker_config.path).st_mode) == 0o600
    assert docker_config.get("index.docker.io") == Credential("alice", "pa:ss")
    assert docker_config.list() == {DOCKER_HUB_SERVER_KEY: "alice", "other.example": "a"}
    leftovers = [p.name for p in docker_config.path.parent.iterdir() if p.name != "config.json"]
    assert leftovers == []


def test_identity_token_is_stored_beside_the_username(docker_config: CredentialStore) -> None:
    docker_config.store("ghcr.io", Credential("bob", "", "refresh-xyz"))
    entry = json.loads(docker_config.path.read_text())["auths"]["ghcr.io"]
    assert entry == {"auth": base64.b64encode(b"bob:").decode(), "identitytoken": "refresh-xyz"}
    assert docker_config.get("ghcr.io") == Credential("bob", "", "refresh-xyz")


def test_legacy_keys_with_scheme_or_path_are_found(docker_config: CredentialStore) -> None:
    docker_config.path.parent.mkdir(parents=True)
    docker_config.path.write_text(json.dumps({"auths": {
        "https://registry.local:5000/v2/": {"auth": base64.b64encode(b"u:p").decode()},
        "http://plain.local": {"username": "old", "password": "style"},
    }}))
    assert docker_config.get("registry.local:5000") == Credential("u", "p")
    assert docker_config.get("plain.local") == Credential("old", "style")
    assert docker_config.get("unknown.local") is None
    assert docker_config.erase("registry.local:5000")
    assert "https://registry.local:5000/v2/" not in json.loads(docker_config.path.read_text())["auths"]


def test_symlinked_config_is_written_through(docker_config: CredentialStore, tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "docker.json"
    real.parent.mkdir()
    real.write_text("{}")
    docker_config.path.parent.mkdir(parents=True)
    docker_config.path.symlink_to(real)
    docker_config.store("ghcr.io", Credential("c", "d"))
    assert docker_config.path.is_symlink()
    assert "ghcr.io" in json.loads(real.read_text())["auths"]


def test_missing_file_means_no_credentials_and_bad_json_is_an_error(docker_config: CredentialStore) -> None:
    assert docker_config.get("ghcr.io") is None
    docker_config.path.parent.mkdir(parents=True)
    docker_config.path.write_text("{not json")
    with pytest.raises(RegistryError, match="not valid JSON"):
        docker_config.get("ghcr.io")


@pytest.fixture
def helper_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    store = write_credential_helper(bin_dir, "test")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return store


def test_creds_store_helper_round_trip(docker_config: CredentialStore, helper_store: Path) -> None:
    docker_config.path.parent.mkdir(parents=True)
    docker_config.path.write_text(json.dumps({"credsStore": "test"}))
    docker_config.store("docker.io", Credential("carol", "helper-secret"))
    assert json.loads(helper_store.read_text()) == {
        DOCKER_HUB_SERVER_KEY: {"Username": "carol", "Secret": "helper-secret"}
    }
    document = json.loads(docker_config.path.read_text())
    assert document["auths"] == {DOCKER_HUB_SERVER_KEY: {}}  # what docker leaves in the file
    assert "helper-secret" not in docker_config.path.read_text()
    assert docker_config.get("docker.io") == Credential("carol", "helper-secret")
    assert docker_config.list() == {DOCKER_HUB_SERVER_KEY: "carol"}
    assert docker_config.erase("docker.io")
    assert json.loads(helper_store.read_text()) == {}
    assert docker_config.get("docker.io") is None


def test_cred_helpers_pick_a_helper_per_registry(docker_config: CredentialStore, helper_store: Path) -> None:
    docker_config.path.parent.mkdir(parents=True)
    docker_config.path.write_text(json.dumps({
        "credHelpers": {"private.example:5000": "test"},
        "auths": {"public.example": {"auth": base64.b64encode(b"pub:lic").decode()}},
    }))
    docker_config.store("private.example:5000", Credential("dave", "per-host"))
    docker_config.store("other.example", Credential("eve", "in-file"))
    assert json.loads(helper_store.read_text())["private.example:5000"]["Secret"] == "per-host"
    assert docker_config.get("private.example:5000") == Credential("dave", "per-host")
    assert docker_config.get("other.example") == Credential("eve", "in-file")
    assert docker_config.get("public.example") == Credential("pub", "lic")


def test_helper_token_username_means_identity_token(docker_config: CredentialStore, helper_store: Path) -> None:
    docker_config.path.parent.mkdir(parents=True)
    docker_config.path.write_text(json.dumps({"credsStore": "test"}))
    docker_config.store("ghcr.io", Credential("frank", "", "oauth-refresh"))
    assert json.loads(helper_store.read_text())["ghcr.io"] == {"Username": "<token>", "Secret": "oauth-refresh"}
    assert docker_config.get("ghcr.io") == Credential("", "", "oauth-refresh")


def test_missing_helper_is_a_clear_error(docker_config: CredentialStore) -> None:
    docker_config.path.parent.mkdir(parents=True)
    docker_config.path.write_text(json.dumps({"credsStore": "nonexistent-helper"}))
    with pytest.raises(RegistryError, match="docker-credential-nonexistent-helper is not on PATH"):
        docker_config.get("ghcr.io")


def test_credential_repr_hides_secrets() -> None:
    text = repr(Credential("user", "hunter2", "tok-123"))
    assert "hunter2" not in text and "tok-123" not in text and "user" in text


def test_failing_helper_message_does_not_echo_the_secret(
    docker_config: CredentialStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin-echo"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-echo"
    helper.write_text("#!/bin/sh\necho \"cannot store: $(cat)\"\nexit 3\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    docker_config.path.parent.mkdir(parents=True)
    docker_config.path.write_text(json.dumps({"credsStore": "echo"}))
    with pytest.raises(RegistryError) as caught:
        docker_config.store("ghcr.io", Credential("grace", "very-secret-value"))
    assert "docker-credential-echo store failed" in str(caught.value)
    assert "very-secret-value" not in str(caught.value)
