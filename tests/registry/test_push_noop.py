"""A push of what the registry already has: one manifest HEAD decides it, nothing is sent."""

from __future__ import annotations

import os

import pytest
from servers import PASSWORD, USER, make_client, push_blob, tiny_image

from lamina.registry.client import DOCKER_MANIFEST
from lamina.registry.credentials import Credential
from tests.conftest import Lamina

pytestmark = pytest.mark.registry


def _api_calls(proxy) -> list[tuple[str, str]]:
    """(method, endpoint kind) of every request but the API check: ('HEAD', 'manifests'), …"""
    return [(r.method, r.path.split("?")[0].split("/")[-2]) for r in proxy.requests() if r.path != "/v2/"]


def test_a_repeated_push_asks_one_question_and_sends_nothing(lamina: Lamina, busybox_tar, fault_proxy):
    ref = f"{fault_proxy.host}/noop/bb:{os.urandom(3).hex()}"
    lamina.out("import", str(busybox_tar), ref, "-c", "ENV NOOP=1")
    first = lamina.out("push", ref)
    assert ("PUT", "manifests") in _api_calls(fault_proxy)
    fault_proxy.reset()
    again = lamina.out("push", ref)
    assert _api_calls(fault_proxy) == [("HEAD", "manifests")]
    assert "Layer already exists" in again
    digest_line = [line for line in first.splitlines() if ": digest: " in line]
    assert digest_line and digest_line == [line for line in again.splitlines() if ": digest: " in line]


def test_a_tag_that_points_at_another_image_is_pushed_again(lamina: Lamina, busybox_tar, fault_proxy):
    ref = f"{fault_proxy.host}/noop/moved:{os.urandom(3).hex()}"
    lamina.out("import", str(busybox_tar), ref, "-c", "ENV VERSION=1")
    lamina.out("push", ref)
    lamina.out("import", str(busybox_tar), ref, "-c", "ENV VERSION=2")
    fault_proxy.reset()
    out = lamina.out("push", ref)
    calls = _api_calls(fault_proxy)
    assert calls[0] == ("HEAD", "manifests") and ("PUT", "manifests") in calls
    assert "Layer already exists" in out  # the layer is the same, only the config changed
    printed = [line for line in out.splitlines() if ": digest: " in line][0].split()[2]
    with make_client(fault_proxy.host) as client:
        assert client.get_manifest(ref.split("/", 1)[1].rsplit(":", 1)[0], ref.rsplit(":", 1)[1]).digest == printed


def test_the_manifest_check_uses_the_push_token(token_registry, token_server) -> None:
    layer, config, manifest, _ = tiny_image("noop-token")
    with make_client(token_registry.host, Credential(USER, PASSWORD)) as client:
        push_blob(client, "bearer/noop", layer)
        push_blob(client, "bearer/noop", config)
        digest = client.put_manifest("bearer/noop", "v1", manifest, DOCKER_MANIFEST)
        before = token_server.count()
        assert client.pushed_manifest_digest("bearer/noop", "v1") == digest
        assert client.pushed_manifest_digest("bearer/noop", "v2") is None
        assert token_server.count() == before  # the pull,push token of the upload is reused
