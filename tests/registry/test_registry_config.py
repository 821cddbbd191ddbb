"""The lamina registry settings file, docker's insecure-registry rules, and mirror fallback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from servers import FaultProxy, free_port, make_client, push_blob, tiny_image

from lamina.errors import RegistryError
from lamina.registry.client import DOCKER_MANIFEST, RegistryClient
from lamina.registry.config import RegistryConfig, canonical_host, default_config_path


def test_defaults_match_docker() -> None:
    config = RegistryConfig()
    assert (config.max_concurrent_downloads, config.max_concurrent_uploads) == (3, 5)
    assert config.is_insecure("127.0.0.1:5000") and config.is_insecure("127.8.9.10")
    assert config.is_insecure("localhost:5000") and config.is_insecure("[::1]:5000")
    assert not config.is_insecure("ghcr.io") and not config.is_insecure("10.1.2.3:5000")


def test_config_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("""
[registry]
registry_mirrors = ["https://mirror.example"]
insecure_registries = ["10.0.0.0/8", "build.local:5000"]
max_concurrent_downloads = 6
max_concurrent_uploads = 2

[registry.registries."ghcr.io"]
mirrors = ["http://ghcr-cache.local:5000/prefix"]

[registry.registries."corp.example"]
insecure = true
""")
    config = RegistryConfig.load(path)
    assert config.source == path
    assert (config.max_concurrent_downloads, config.max_concurrent_uploads) == (6, 2)
    assert config.is_insecure("10.1.2.3:5000") and config.is_insecure("build.local:5000")
    assert config.is_insecure("corp.example") and not config.is_insecure("build.local:5001")
    hub = config.endpoints("docker.io")
    assert [(e.host, e.scheme, e.mirror) for e in hub] == [
        ("mirror.example", "https", True), ("registry-1.docker.io", None, False)
    ]
    ghcr = config.endpoints("ghcr.io")
    assert (ghcr[0].host, ghcr[0].scheme, ghcr[0].path_prefix, ghcr[0].insecure) == (
        "ghcr-cache.local:5000", "http", "/prefix", True
    )
    assert [e.host for e in config.endpoints("ghcr.io", for_push=True)] == ["ghcr.io"]
    assert config.certs_dirs == (Path("/etc/docker/certs.d"), tmp_path / "certs.d")


def test_missing_file_gives_defaults_and_a_bad_one_is_an_error(tmp_path: Path) -> None:
    assert RegistryConfig.load(tmp_path / "absent.toml").max_concurrent_downloads == 3
    bad = tmp_path / "bad.toml"
    bad.write_text("[registry]\nmax_concurrent_uploads = 0\n")
    with pytest.raises(RegistryError, match="max_concurrent_uploads"):
        RegistryConfig.load(bad)
    bad.write_text("registry = [")
    with pytest.raises(RegistryError, match="cannot read lamina config"):
        RegistryConfig.load(bad)


def test_config_path_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAMINA_CONFIG", str(tmp_path / "x.toml"))
    assert default_config_path() == tmp_path / "x.toml"


def test_hub_aliases_fold_to_docker_io() -> None:
    assert {canonical_host(h) for h in ("docker.io", "index.docker.io", "registry-1.docker.io")} == {"docker.io"}
    assert canonical_host("https://Registry.Local:5000/v2/") == "registry.local:5000"


def test_certs_d_files_are_found(tmp_path: Path) -> None:
    directory = tmp_path / "certs.d" / "reg.example:443"
    directory.mkdir(parents=True)
    for name in ("ca.crt", "extra.crt", "client.cert", "client.key"):
        (directory / name).write_text("x")
    files = RegistryConfig(certs_dirs=(tmp_path / "certs.d",)).tls_files("reg.example:443")
    assert [p.name for p in files.ca_files] == ["ca.crt", "extra.crt"]
    assert [(c.name, k.name) for c, k in files.client_pairs] == [("client.cert", "client.key")]
    (directory / "client.key").unlink()
    with pytest.raises(RegistryError, match="missing key client.key"):
        RegistryConfig(certs_dirs=(tmp_path / "certs.d",)).tls_files("reg.example:443")


def _publish(client: RegistryClient, repository: str) -> str:
    layer, config, manifest, _ = tiny_image(repository)
    push_blob(client, repository, layer)
    push_blob(client, repository, config)
    return client.put_manifest(repository, "v1", manifest, DOCKER_MANIFEST)


def test_reads_come_from_a_mirror_when_it_has_the_content(anon_registry, fault_proxy: FaultProxy) -> None:
    dead = f"127.0.0.1:{free_port()}"
    with make_client(anon_registry.host) as direct:
        digest = _publish(direct, "mirror/app")
    config = RegistryConfig(mirrors={dead: (f"http://{fault_proxy.host}",)})
    with make_client(dead, config=config) as client:
        manifest = client.get_manifest("mirror/app", "v1")
        assert manifest.digest == digest
        assert client.head_manifest("mirror/app", "v1").digest == digest
    assert fault_proxy.requests("GET", "/manifests/v1")


def test_a_broken_mirror_falls_back_to_the_registry(anon_registry) -> None:
    with make_client(anon_registry.host) as direct:
        digest = _publish(direct, "mirror/fallback")
    config = RegistryConfig(mirrors={anon_registry.host: (f"http://127.0.0.1:{free_port()}",)})
    with make_client(anon_registry.host, config=config) as client:
        assert client.get_manifest("mirror/fallback", "v1").digest == digest
        assert client._endpoints[0].unreachable  # not probed again by this client
        layer_digest = __import__("json").loads(client.get_manifest("mirror/fallback", "v1").data)["layers"][0]["digest"]
        sink = io.BytesIO()
        client.fetch_blob("mirror/fallback", layer_digest, sink)
        assert sink.getvalue()


def test_pushes_go_to_the_registry_never_to_a_mirror(anon_registry, fault_proxy: FaultProxy) -> None:
    config = RegistryConfig(mirrors={anon_registry.host: (f"http://{fault_proxy.host}",)})
    layer, image_config, manifest, _ = tiny_image("mirror-push")
    with make_client(anon_registry.host, config=config) as client:
        assert client.pushed_manifest_digest("mirror/push", "v1") is None
        push_blob(client, "mirror/push", layer)
        push_blob(client, "mirror/push", image_config)
        digest = client.put_manifest("mirror/push", "v1", manifest, DOCKER_MANIFEST)
        assert client.pushed_manifest_digest("mirror/push", "v1") == digest
        assert client.get_manifest("mirror/push", "v1").digest == digest  # a read: the mirror may answer
    assert [r.method for r in fault_proxy.requests() if r.path != "/v2/"] == ["GET"]
