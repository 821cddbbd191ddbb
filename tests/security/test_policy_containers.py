"""containers-policy.json parsing, scope precedence and signedIdentity rules, with the cases of
containers/image's own tests (signature/policy_eval_test.go, policy_eval_sigstore_test.go)."""

from __future__ import annotations

import json

import pytest

from lamina.errors import PolicyError
from lamina.oci.reference import parse_reference
from lamina.security.signing.policy import identity_check, load_policy, parse_policy
from tests.security.sign_support import COSIGN_DATA

SCOPES = ["", "unmatched", "deep.com", "*.very.deep.com", "*.deep.com", "deep.com/n1", "deep.com/n1/n2",
          "deep.com/n1/n2/n3", "deep.com/n1/n2/n3/repo", "deep.com/n1/n2/n3/repo:tag2"]


def _precedence_policy():
    document = {"default": [{"type": "reject", "x": "default"}],
                "transports": {"docker": {scope: [{"type": "reject", "x": scope}] for scope in SCOPES},
                               "atomic": {"unmatched": [{"type": "reject", "x": "atomic"}]}}}
    return parse_policy(json.dumps(document).encode())


@pytest.mark.parametrize("image, transport, expected", [
    ("deep.com/n1/n2/n3/repo:tag2", "docker", "deep.com/n1/n2/n3/repo:tag2"),
    ("deep.com/n1/n2/n3/repo:nottag2", "docker", "deep.com/n1/n2/n3/repo"),
    ("deep.com/n1/n2/n3/notrepo:tag2", "docker", "deep.com/n1/n2/n3"),
    ("deep.com/n1/n2/notn3/repo:tag2", "docker", "deep.com/n1/n2"),
    ("deep.com/n1/notn2/n3/repo:tag2", "docker", "deep.com/n1"),
    ("deep.com/notn1/n2/n3/repo:tag2", "docker", "deep.com"),
    ("very.deep.com/n1/n2/n3/repo:tag2", "docker", "*.deep.com"),
    ("not.very.deep.com/n1/n2/n3/repo:tag2", "docker", "*.very.deep.com"),
    ("this.does-not/match:anything", "docker", ""),
    ("this.does-not/match:anything", "atomic", "default"),
    ("what/ever", "dir", "default"),
])
def test_scope_precedence_is_containers_images(image, transport, expected):
    _scope, requirements = _precedence_policy().requirements_for(parse_reference(image), transport)
    assert requirements[0]["x"] == expected


def test_docker_hub_names_are_normalised_before_matching():
    policy = parse_policy(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {
        "docker.io/library/busybox": [{"type": "insecureAcceptAnything"}]}}}).encode())
    scope, requirements = policy.requirements_for(parse_reference("busybox"))
    assert scope == "docker:docker.io/library/busybox" and requirements[0]["type"] == "insecureAcceptAnything"


def test_containers_image_example_policy_loads(tmp_path):
    example = {"default": [{"type": "reject"}], "transports": {"docker": {
        "example.com/playground": [{"type": "insecureAcceptAnything"}],
        "example.com/production": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/keys/k"}],
        "example.com/signed": [{"type": "sigstoreSigned", "keyPath": str(COSIGN_DATA / "cosign.pub"),
                                "signedIdentity": {"type": "matchRepository"}}]}}}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(example))
    policy = load_policy(path)
    assert policy.requirements_for(parse_reference("example.com/production/app:1"))[1][0]["type"] == "signedBy"
    assert not policy.accepts_everything()


@pytest.mark.parametrize("text, message", [
    (b"{", "not JSON"),
    (b"[]", "must be a JSON object"),
    (b"{}", "'default' policy is missing"),
    (b'{"default": [{"type": "acceptEverything"}]}', "unknown policy requirement type 'acceptEverything'"),
    (b'{"default": [], "transports": {"docker": {"x": {}}}}', "docker:x: requirements must be a list"),
    (b'{"default": [{"type": "sigstoreSigned", "signedIdentity": {"type": "nope"}}]}', "unknown signedIdentity"),
    (b'{"default": [], "extra": 1}', "unknown top-level key 'extra'"),
])
def test_malformed_policies_are_one_line_errors(text, message):
    with pytest.raises(PolicyError, match=message) as info:
        parse_policy(text, source="p.json")
    assert str(info.value).startswith("p.json: ") and "\n" not in str(info.value)


@pytest.mark.parametrize("matcher, image, signed, accepted", [
    ({"type": "matchRepoDigestOrExact"}, "h.example/app:tag", "h.example/app:tag", True),
    ({"type": "matchRepoDigestOrExact"}, "h.example/app:tag", "h.example/app:other", False),
    ({"type": "matchRepoDigestOrExact"}, "h.example/app:tag", "h.example/app", False),  # cosign's form
    ({"type": "matchRepoDigestOrExact"}, "h.example/app@sha256:" + "a" * 64, "h.example/app:any", True),
    ({"type": "matchRepoDigestOrExact"}, "h.example/app@sha256:" + "a" * 64, "h.example/other", False),
    ({"type": "matchExact"}, "h.example/app:tag", "h.example/app:tag", True),
    ({"type": "matchExact"}, "h.example/app:tag", "h.example/app", False),
    ({"type": "matchRepository"}, "h.example/app:tag", "h.example/app", True),
    ({"type": "matchRepository"}, "h.example/app:tag", "h.example/app2", False),
    ({"type": "exactReference", "dockerReference": "h.example/app:v1"}, "mirror.example/x:y", "h.example/app:v1",
     True),
    ({"type": "exactReference", "dockerReference": "this/does-not:match"}, "h.example/app:v1", "h.example/app:v1",
     False),
    ({"type": "exactRepository", "dockerRepository": "h.example/app"}, "m.example/x:y", "h.example/app:v9", True),
    ({"type": "remapIdentity", "prefix": "mirror.example/team", "signedPrefix": "h.example/team"},
     "mirror.example/team/app:v1", "h.example/team/app:v1", True),
    ({"type": "remapIdentity", "prefix": "mirror.example/team", "signedPrefix": "h.example/team"},
     "mirror.example/teamx/app:v1", "h.example/team/app:v1", False),
    ({"type": "matchRepository"}, "busybox:latest", "docker.io/library/busybox", True),
])
def test_signed_identity_rules(matcher, image, signed, accepted):
    reason = identity_check(matcher, parse_reference(image))(signed)
    assert (reason is None) == accepted, reason
