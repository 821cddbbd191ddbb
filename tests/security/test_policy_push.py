"""``lamina push --policy RULES --sign-by KEY``: an image that breaks the rules is not sent at all;
one that passes is pushed and signed, and the signature verifies."""

from __future__ import annotations

import json

from lamina.security.signing.keys import generate_key_pair
from tests.registry.servers import make_client
from tests.security import sign_support

sign_registry = sign_support.sign_registry


def test_push_refuses_an_image_that_breaks_the_rules(lamina, imported_busybox, sign_registry, tmp_path):
    target = f"{sign_registry.host}/pushpol/root:v1"
    lamina.run("tag", "busybox:latest", target)
    (tmp_path / "rules.yaml").write_text("rules:\n  non-root: true\n  max-layers: 5\n")
    result = lamina.run("push", "--policy", str(tmp_path / "rules.yaml"), target, check=False)
    last = result.stderr.decode().strip().splitlines()[-1]
    assert result.returncode != 0 and last.startswith("lamina: error: ")
    assert "breaks policy" in last and "non-root: runs as root" in last and last.endswith("nothing pushed")
    with make_client(sign_registry.host) as client:
        assert client.head_manifest("pushpol/root", "v1") is None


def test_push_signs_what_passes(lamina, imported_busybox, sign_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "push")
    pair = generate_key_pair("push")
    (tmp_path / "k.key").write_bytes(pair.private_pem)
    (tmp_path / "k.pub").write_bytes(pair.public_pem)
    target = f"{sign_registry.host}/pushpol/ok:v1"
    lamina.run("tag", "busybox:latest", target)
    (tmp_path / "rules.yaml").write_text("rules:\n  max-layers: 5\n")
    out = lamina.out("push", "--policy", str(tmp_path / "rules.yaml"), "--sign-by", str(tmp_path / "k.key"), target)
    digest = out.split("digest: ")[1].split()[0]
    assert f"sha256-{digest[7:]}.sig" in out
    payload, = json.loads(lamina.out("verify", "--key", str(tmp_path / "k.pub"), target))
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest
    assert payload["critical"]["identity"]["docker-reference"] == target
