"""Authentication against real registries: htpasswd Basic, Bearer tokens, TLS; and the challenge parser."""

from __future__ import annotations

import io
import json
import time

import pytest
from servers import (
    PASSWORD,
    USER,
    FixedCredentials,
    digest_of,
    make_client,
    opener,
    push_blob,
    random_bytes,
    tiny_image,
)

from lamina.errors import AuthError, RegistryError
from lamina.registry.auth import parse_www_authenticate
from lamina.registry.client import DOCKER_MANIFEST, BlobPushOutcome, RegistryClient
from lamina.registry.config import RegistryConfig
from lamina.registry.credentials import Credential, CredentialStore
from lamina.registry.login import login, logout

GOOD = Credential(USER, PASSWORD)
BAD = Credential(USER, "wrong-password-123")


# -- WWW-Authenticate ------------------------------------------------------------------------------


def test_bearer_challenge_with_quoted_commas_is_parsed() -> None:
    header = ('Bearer realm="https://auth.example/token",service="registry.example",'
              'scope="repository:team/app:pull,push"')
    (challenge,) = parse_www_authenticate(header)
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example/token"
    assert challenge.service == "registry.example"
    assert challenge.scopes == {"repository:team/app:pull,push"}


def test_basic_challenge_and_several_challenges_in_one_header() -> None:
    challenges = parse_www_authenticate('Basic realm="Registry Realm", Bearer realm="https://t/x",error="invalid_token"')
    assert [c.scheme for c in challenges] == ["basic", "bearer"]
    assert challenges[0].realm == "Registry Realm"
    assert challenges[1].params["error"] == "invalid_token"


def test_unquoted_and_escaped_values() -> None:
    (challenge,) = parse_www_authenticate('Bearer realm=https://t/token, service=svc, scope="a \\"b\\" c"')
    assert challenge.realm == "https://t/token" and challenge.service == "svc"
    assert challenge.params["scope"] == 'a "b" c'
    assert challenge.scopes == {"a", '"b"', "c"}


# -- Basic (htpasswd) -------------------------------------------------------------------------------


def test_basic_auth_round_trip(basic_registry) -> None:
    with make_client(basic_registry.host, GOOD) as client:
        assert client.ping().scheme == "basic"
        data = random_bytes(100_000)
        digest = push_blob(client, "basic/app", data)
        sink = io.BytesIO()
        client.fetch_blob("basic/app", digest, sink)
        assert sink.getvalue() == data


def test_basic_auth_wrong_password_names_the_host_and_not_the_password(basic_registry) -> None:
    with make_client(basic_registry.host, BAD) as client, pytest.raises(AuthError) as caught:
        client.get_manifest("basic/app", "latest")
    assert str(caught.value) == f"unauthorized: check credentials for {basic_registry.host}"
    assert BAD.password not in str(caught.value)


def test_basic_auth_without_credentials_asks_for_login(basic_registry) -> None:
    with make_client(basic_registry.host) as client, pytest.raises(AuthError, match="lamina login"):
        client.upload_blob("basic/app", digest_of(b"x"), 1, opener(b"x"))


# -- Bearer tokens ---------------------------------------------------------------------------------


def test_bearer_round_trip_with_image(token_registry, token_server) -> None:
    layer, config, manifest, _ = tiny_image("bearer")
    with make_client(token_registry.host, GOOD) as client:
        assert client.ping().scheme == "bearer"
        push_blob(client, "bearer/app", layer)
        push_blob(client, "bearer/app", config)
        digest = client.put_manifest("bearer/app", "v1", manifest, DOCKER_MANIFEST)
        assert client.get_manifest("bearer/app", "v1").digest == digest
        assert "v1" in client.list_tags("bearer/app")
        assert "bearer/app" in client.catalog()


def test_token_is_reused_for_the_same_scope(token_registry, token_server) -> None:
    data = random_bytes(10_000)
    with make_client(token_registry.host, GOOD) as client:
        digest = push_blob(client, "bearer/cache", data)
        before = token_server.count()
        for _ in range(5):
            client.fetch_blob("bearer/cache", digest, io.BytesIO())
            assert client.blob_exists("bearer/cache", digest) == len(data)
        assert token_server.count() - before == 1
        pulled = token_server.requests[-1]
        assert pulled.scopes == ["repository:bearer/cache:pull"] and pulled.user == USER


def test_expired_token_is_fetched_again(token_registry, token_server) -> None:
    data = random_bytes(1000)
    with make_client(token_registry.host, GOOD) as client:
        digest = push_blob(client, "bearer/expiry", data)
        token_server.expires_in = 1
        try:
            client.blob_exists("bearer/expiry", digest)
            before = token_server.count()
            time.sleep(1.1)
            assert client.blob_exists("bearer/expiry", digest) == len(data)
            assert token_server.count() - before == 1
        finally:
            token_server.expires_in = 300


def test_mount_asks_for_pull_on_the_source_repository(token_registry, token_server) -> None:
    data = random_bytes(5000)
    with make_client(token_registry.host, GOOD) as client:
        digest = push_blob(client, "bearer/source", data)
        outcome = client.upload_blob("bearer/target", digest, len(data), opener(data), mount_from="bearer/source")
    assert outcome is BlobPushOutcome.MOUNTED
    mount_scopes = {frozenset(r.scopes) for r in token_server.requests}
    assert frozenset({"repository:bearer/target:pull,push", "repository:bearer/source:pull"}) in mount_scopes


def test_bearer_wrong_password_fails_without_leaking_it(token_registry) -> None:
    with make_client(token_registry.host, BAD) as client, pytest.raises(AuthError) as caught:
        client.get_manifest("bearer/app", "v1")
    assert str(caught.value) == f"unauthorized: check credentials for {token_registry.host}"
    assert BAD.password not in str(caught.value)


def test_anonymous_pull_from_a_private_registry_reads_like_docker(token_registry) -> None:
    with make_client(token_registry.host) as client, pytest.raises(AuthError) as caught:
        client.get_manifest("bearer/app", "v1")
    assert str(caught.value) == (
        f"pull access denied for {token_registry.host}/bearer/app, repository does not exist or may "
        "require 'lamina login'"
    )


def test_errors_never_contain_secrets(token_registry, basic_registry, token_server) -> None:
    token = token_server.sign(USER, ["repository:x:pull"])
    secrets = [BAD.password, PASSWORD, token]
    messages = []
    for host in (token_registry.host, basic_registry.host):
        with make_client(host, BAD) as client:
            for call in (lambda c: c.get_manifest("s/x", "v1"), lambda c: c.check_login()):
                with pytest.raises(RegistryError) as caught:
                    call(client)
                messages.append(str(caught.value))
    messages.append(repr(GOOD))
    messages.append(repr(Credential("u", identity_token=token)))
    for message in messages:
        for secret in secrets:
            assert secret not in message, message


# -- login, logout and identity tokens ---------------------------------------------------------------


def test_login_checks_then_saves_basic_credentials(basic_registry, docker_config: CredentialStore) -> None:
    with pytest.raises(AuthError):
        login(basic_registry.host, USER, "nope", credentials=docker_config, config=RegistryConfig())
    assert docker_config.get(basic_registry.host) is None
    assert login(basic_registry.host, USER, PASSWORD, credentials=docker_config, config=RegistryConfig()) == \
        "Login Succeeded"
    assert docker_config.get(basic_registry.host) == GOOD
    assert logout(basic_registry.host, credentials=docker_config) == \
        f"Removing login credentials for {basic_registry.host}"
    assert docker_config.get(basic_registry.host) is None
    assert logout(basic_registry.host, credentials=docker_config) == f"Not logged in to {basic_registry.host}"


def test_login_to_token_server_stores_an_identity_token_used_by_refresh_grant(
    token_registry, token_server, docker_config: CredentialStore
) -> None:
    login(token_registry.host, USER, PASSWORD, credentials=docker_config, config=RegistryConfig())
    entry = json.loads(docker_config.path.read_text())["auths"][token_registry.host]
    assert entry["identitytoken"]
    stored = docker_config.get(token_registry.host)
    assert stored is not None and stored.identity_token and not stored.password
    data = random_bytes(2000)
    client = RegistryClient(token_registry.host, config=RegistryConfig(), credentials=docker_config)
    with client:
        before = len([r for r in token_server.requests if r.method == "POST"])
        push_blob(client, "bearer/identity", data)
        posts = [r for r in token_server.requests if r.method == "POST"]
        assert len(posts) > before and posts[-1].grant == "refresh_token"


def test_login_to_anonymous_registry_succeeds(anon_registry, docker_config: CredentialStore) -> None:
    assert login(anon_registry.host, "someone", "anything", credentials=docker_config,
                 config=RegistryConfig()) == "Login Succeeded"


# -- TLS ------------------------------------------------------------------------------------------


def test_tls_registry_with_its_ca_in_certs_d(tls_registry, tmp_path) -> None:
    certs = tmp_path / "certs.d" / tls_registry.host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(tls_registry.tls.ca_cert.read_bytes())
    config = RegistryConfig(certs_dirs=(tmp_path / "certs.d",), loopback_insecure=False)
    with make_client(tls_registry.host, config=config) as client:
        assert client.ping() is None
        assert client._registry.base_url == f"https://{tls_registry.host}"
        digest = push_blob(client, "tls/app", b"over tls")
        sink = io.BytesIO()
        client.fetch_blob("tls/app", digest, sink)
        assert sink.getvalue() == b"over tls"


def test_tls_failure_says_where_to_put_the_ca(tls_registry, tmp_path) -> None:
    config = RegistryConfig(certs_dirs=(tmp_path / "certs.d",), loopback_insecure=False)
    with make_client(tls_registry.host, config=config) as client, pytest.raises(RegistryError) as caught:
        client.ping()
    message = str(caught.value)
    assert tls_registry.host in message
    assert f"/etc/docker/certs.d/{tls_registry.host}/ca.crt" in message
    assert str(tmp_path / "certs.d" / tls_registry.host / "ca.crt") in message


def test_client_certificate_from_certs_d_is_presented(mtls_registry, tmp_path) -> None:
    certs = tmp_path / "certs.d" / mtls_registry.host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(mtls_registry.tls.ca_cert.read_bytes())
    config = RegistryConfig(certs_dirs=(tmp_path / "certs.d",), loopback_insecure=False)
    with make_client(mtls_registry.host, config=config) as client, pytest.raises(RegistryError):
        client.ping()  # no client certificate yet: the handshake is refused
    (certs / "client.cert").write_bytes(mtls_registry.tls.client_cert.read_bytes())
    (certs / "client.key").write_bytes(mtls_registry.tls.client_key.read_bytes())
    with make_client(mtls_registry.host, config=config) as client:
        client.retry_attempts = 1
        assert client.ping() is None
        assert push_blob(client, "mtls/app", b"mutual") == digest_of(b"mutual")


def test_loopback_tls_registry_is_insecure_by_default_like_docker(tls_registry) -> None:
    with make_client(tls_registry.host) as client:
        assert client.ping() is None
        assert client._registry.base_url.startswith("https://")


def test_credentials_are_looked_up_under_the_registry_host(basic_registry) -> None:
    asked: list[str] = []

    class Recording(FixedCredentials):
        def get(self, server: str) -> Credential | None:
            asked.append(server)
            return GOOD

    with RegistryClient(basic_registry.host, config=RegistryConfig(), credentials=Recording(None)) as client:
        client.blob_exists("basic/lookup", digest_of(b"x"))
        client.blob_exists("basic/lookup", digest_of(b"y"))
    assert asked == [basic_registry.host]
