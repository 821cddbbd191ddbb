"""References follow docker's grammar and normalisation (distribution/reference)."""

import pytest

from lamina.errors import InvalidReferenceError
from lamina.oci.reference import parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("debian", "docker.io/library/debian:latest", "debian:latest"),
        ("debian:bookworm", "docker.io/library/debian:bookworm", "debian:bookworm"),
        ("user/app", "docker.io/user/app:latest", "user/app:latest"),
        ("docker.io/library/busybox:1", "docker.io/library/busybox:1", "busybox:1"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("registry.example.com/team/app:v1.2", "registry.example.com/team/app:v1.2", "registry.example.com/team/app:v1.2"),
        ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
        (f"busybox:1@{DIGEST}", f"docker.io/library/busybox:1@{DIGEST}", f"busybox:1@{DIGEST}"),
        ("a.b/c__d/e-f/g.h", "a.b/c__d/e-f/g.h:latest", "a.b/c__d/e-f/g.h:latest"),
    ],
)
def test_normalises_like_docker(text, full, familiar):
    ref = parse_reference(text)
    assert str(ref) == full
    assert ref.familiar == familiar


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Debian", "must be lowercase"),
        ("user/App:1", "must be lowercase"),
        ("a" * 64, "64-byte hexadecimal"),
        ("", "empty"),
        ("bad name", "invalid reference format"),
        ("name:bad/tag:", "invalid reference format"),
        ("name:" + "t" * 129, "bad tag"),
        ("name@sha256:abc", "invalid reference format"),
        ("-lead/x", "invalid reference format"),
        ("x//y", "invalid reference format"),
        ("a/" + "b" * 260, "255"),
    ],
)
def test_rejects_bad_references_with_a_clear_message(text, message):
    with pytest.raises(InvalidReferenceError, match=message):
        parse_reference(text)


def test_without_default_tag_keeps_the_bare_name():
    ref = parse_reference("busybox", default_tag=False)
    assert ref.tag is None and str(ref) == "docker.io/library/busybox"
