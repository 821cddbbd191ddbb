"""containers-policy.json on ``lamina pull`` and ``lamina run`` against a loopback registry: an
unsigned image is refused by sigstoreSigned before anything is stored, a signed one is pulled,
``reject`` holds for its scope only, and the default lookup finds the policy in lamina's config dir."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lamina.security.signing.keys import generate_key_pair
from tests.conftest import store_listing
from tests.security import sign_support
from tests.security.sign_support import push_tiny

sign_registry = sign_support.sign_registry
PASS = "policy-pass"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    return sign_support.key_files(tmp_path_factory.mktemp("policy-keys"), PASS)


@pytest.fixture
def cli(lamina, monkeypatch, tmp_path):
    monkeypatch.setenv("COSIGN_PASSWORD", PASS)
    monkeypatch.setenv("LAMINA_CONFIG", str(tmp_path / "config" / "config.toml"))  # no policy.json there yet
    monkeypatch.delenv("LAMINA_POLICY", raising=False)
    return lamina


def _policy(tmp_path: Path, document: dict, name: str = "policy.json") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def _signed_only(host: str, pub: Path, **extra) -> dict:
    return {"default": [{"type": "insecureAcceptAnything"}],
            "transports": {"docker": {host: [{"type": "sigstoreSigned", "keyPath": str(pub), **extra}]}}}


def test_unsigned_image_is_refused_and_nothing_is_stored(cli, sign_registry, keys, tmp_path):
    push_tiny(sign_registry.host, "pol/unsigned", "v1", "pol-unsigned")
    policy = _policy(tmp_path, _signed_only(sign_registry.host, keys[1]))
    before = store_listing(cli.root)
    err = cli.fails("pull", "--policy", str(policy), f"{sign_registry.host}/pol/unsigned:v1")
    assert "rejected by policy" in err and "sigstoreSigned: no signatures for sha256:" in err
    assert f"(docker:{sign_registry.host})" in err
    assert store_listing(cli.root)["files"] == before["files"] == {}
    assert cli.out("images", "-q").strip() == ""


def test_signed_image_is_pulled(cli, sign_registry, keys, tmp_path):
    image = f"{sign_registry.host}/pol/signed:v1"
    digest = push_tiny(sign_registry.host, "pol/signed", "v1", "pol-signed")
    cli.run("sign", "--key", str(keys[0]), image)
    policy = _policy(tmp_path, _signed_only(sign_registry.host, keys[1]))
    out = cli.out("pull", "--policy", str(policy), image)
    assert f"Digest: {digest}" in out
    assert cli.out("images", "-q").strip() != ""


def test_signature_by_another_key_is_refused(cli, sign_registry, keys, tmp_path):
    image = f"{sign_registry.host}/pol/otherkey:v1"
    push_tiny(sign_registry.host, "pol/otherkey", "v1", "pol-otherkey")
    other = generate_key_pair(PASS)
    (tmp_path / "other.key").write_bytes(other.private_pem)
    cli.run("sign", "--key", str(tmp_path / "other.key"), image)
    policy = _policy(tmp_path, _signed_only(sign_registry.host, keys[1]))
    err = cli.fails("pull", "--policy", str(policy), image)
    assert "signature does not verify with the given key" in err


def test_key_data_and_identity_rules_apply(cli, sign_registry, keys, tmp_path):
    """Signed by digest (cosign's tagless identity): matchRepoDigestOrExact refuses a pull by tag,
    matchRepository accepts it; keyData is the same key inline."""
    host = sign_registry.host
    digest = push_tiny(host, "pol/ident", "v1", "pol-ident")
    cli.run("sign", "--key", str(keys[0]), f"{host}/pol/ident@{digest}")
    key_data = base64.b64encode(keys[1].read_bytes()).decode()
    strict = _policy(tmp_path, {"default": [{"type": "sigstoreSigned", "keyData": key_data}]}, "strict.json")
    err = cli.fails("pull", "--policy", str(strict), f"{host}/pol/ident:v1")
    assert f"signed identity {host}/pol/ident does not match {host}/pol/ident:v1" in err
    cli.run("pull", "--policy", str(strict), f"{host}/pol/ident@{digest}")
    loose = _policy(tmp_path, {"default": [{"type": "sigstoreSigned", "keyData": key_data,
                                            "signedIdentity": {"type": "matchRepository"}}]}, "loose.json")
    cli.run("pull", "--policy", str(loose), f"{host}/pol/ident:v1")


def test_reject_holds_for_its_scope_only(cli, sign_registry, tmp_path):
    host = sign_registry.host
    push_tiny(host, "blocked/app", "v1", "pol-blocked")
    push_tiny(host, "open/app", "v1", "pol-open")
    policy = _policy(tmp_path, {"default": [{"type": "insecureAcceptAnything"}],
                                "transports": {"docker": {f"{host}/blocked": [{"type": "reject"}]}}})
    err = cli.fails("pull", "--policy", str(policy), f"{host}/blocked/app:v1")
    assert f"(docker:{host}/blocked): reject: images in this scope are rejected" in err
    cli.run("pull", "--policy", str(policy), f"{host}/open/app:v1")


def test_more_specific_scope_wins_over_a_reject(cli, sign_registry, tmp_path):
    host = sign_registry.host
    push_tiny(host, "team/allowed", "v1", "pol-allowed")
    push_tiny(host, "team/other", "v1", "pol-other")
    policy = _policy(tmp_path, {"default": [{"type": "reject"}], "transports": {"docker": {
        f"{host}/team/allowed:v1": [{"type": "insecureAcceptAnything"}],
        f"{host}/team": [{"type": "reject"}]}}})
    cli.run("pull", "--policy", str(policy), f"{host}/team/allowed:v1")
    assert f"(docker:{host}/team): reject" in cli.fails("pull", "--policy", str(policy), f"{host}/team/other:v1")


def test_gpg_signed_by_is_refused_clearly(cli, sign_registry, tmp_path):
    push_tiny(sign_registry.host, "pol/gpg", "v1", "pol-gpg")
    policy = _policy(tmp_path, {"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}]})
    err = cli.fails("pull", "--policy", str(policy), f"{sign_registry.host}/pol/gpg:v1")
    assert "signedBy: GPG (simple signing) signatures are not supported by lamina" in err


def test_policy_in_lamina_config_dir_is_found_without_a_flag(cli, sign_registry, keys, tmp_path):
    push_tiny(sign_registry.host, "pol/default", "v1", "pol-default")
    _policy(tmp_path, _signed_only(sign_registry.host, keys[1]), "config/policy.json")
    err = cli.fails("pull", f"{sign_registry.host}/pol/default:v1")
    assert f"rejected by policy {tmp_path / 'config' / 'policy.json'}" in err


def test_run_refuses_an_unsigned_image_before_storing_it(cli, sign_registry, keys, tmp_path, monkeypatch):
    push_tiny(sign_registry.host, "pol/run", "v1", "pol-run")
    monkeypatch.setenv("LAMINA_POLICY", str(_policy(tmp_path, _signed_only(sign_registry.host, keys[1]))))
    result = cli.run("run", "--rm", f"{sign_registry.host}/pol/run:v1", "true", check=False)
    last = result.stderr.decode().strip().splitlines()[-1]  # after docker's "Unable to find image … locally"
    assert result.returncode != 0 and "Traceback" not in result.stderr.decode()
    assert last.startswith("lamina: error: ") and "rejected by policy" in last and "sigstoreSigned" in last
    assert store_listing(cli.root)["files"] == {}


def test_run_policy_flag_refuses_an_unsigned_image_and_runs_a_signed_one(cli, sign_registry, keys, tmp_path):
    """``run --policy FILE`` (issue 15: --policy on pull, run and build): the pull run makes is
    checked before anything is stored; the same image signed runs."""
    policy = _policy(tmp_path, _signed_only(sign_registry.host, keys[1]))
    push_tiny(sign_registry.host, "pol/runflag", "v1", "pol-runflag")
    refused = cli.run("run", "--rm", "--policy", str(policy), f"{sign_registry.host}/pol/runflag:v1", "true",
                      check=False)
    last = refused.stderr.decode().strip().splitlines()[-1]
    assert refused.returncode != 0 and last.startswith("lamina: error: ") and "rejected by policy" in last
    assert store_listing(cli.root)["files"] == {}
    cli.run("sign", "--key", str(keys[0]), f"{sign_registry.host}/pol/runflag:v1")
    created = cli.out("create", "--policy", str(policy), f"{sign_registry.host}/pol/runflag:v1", "true")
    assert cli.out("ps", "-aq", "--no-trunc").split() == [created.strip().splitlines()[-1]]
