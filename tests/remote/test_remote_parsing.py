"""The pieces of the remote door that need no second host: host URLs, the ssh command line,
global flags, build argument splitting, the context uploaded for a build, contexts on disk."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from lamina.cli.globalflags import split_globals
from lamina.errors import UsageError
from lamina.remote.buildupload import split_build_args, write_context_tar
from lamina.remote.scp import parse_destination
from lamina.remote.transport import SshTarget, parse_host, ssh_argv


@pytest.mark.parametrize(("url", "target"), [
    ("ssh://host", SshTarget("host")),
    ("ssh://deploy@hostB", SshTarget("hostB", "deploy")),
    ("ssh://deploy@hostB:2222", SshTarget("hostB", "deploy", 2222)),
    ("ssh://[fd00::2]:22", SshTarget("fd00::2", None, 22)),
    ("ssh://alias/", SshTarget("alias")),
])
def test_ssh_urls_as_docker_takes_them(url, target):
    assert parse_host(url) == target


@pytest.mark.parametrize(("url", "message"), [
    ("tcp://h:2375", "unsupported host"),
    ("unix:///run/docker.sock", "unsupported host"),
    ("ssh://", "expected ssh://"),
    ("ssh://h:0", "port must be"),
    ("ssh://h:99999", "port must be"),
    ("ssh://h:x", "port must be"),
    ("ssh://@h", "empty user"),
    ("ssh://-oProxyCommand=x", "no host name"),
    ("ssh://h/path", "expected ssh://"),
])
def test_bad_host_urls_are_refused(url, message):
    with pytest.raises(UsageError, match=message):
        parse_host(url)


def test_the_ssh_command_quotes_the_remote_arguments(monkeypatch):
    monkeypatch.delenv("LAMINA_SSH_COMMAND", raising=False)
    monkeypatch.delenv("LAMINA_REMOTE_COMMAND", raising=False)
    argv = ssh_argv(SshTarget("hostB", "deploy", 2222), ["run", "busybox", "sh", "-c", "echo $HOME; x'y"])
    assert argv[:3] == ["ssh", "-o", "BatchMode=yes"]
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-l") + 1] == "deploy"
    assert argv[-3:-1] == ["--", "hostB"]
    # the remote shell splits the last word back into exactly the arguments given
    words = subprocess.run(["sh", "-c", f"for w in {argv[-1]}; do printf '%s\\0' \"$w\"; done"],
                           capture_output=True).stdout.split(b"\0")[:-1]
    assert [w.decode() for w in words] == ["lamina", "run", "busybox", "sh", "-c", "echo $HOME; x'y"]


def test_global_flags_before_the_command():
    assert split_globals(["-H", "ssh://h", "--debug", "ps", "-a"]) == ({"host": "ssh://h", "debug": True}, ["ps", "-a"])
    assert split_globals(["--host=ssh://h", "--root", "/r", "images"]) == ({"host": "ssh://h", "root": "/r"}, ["images"])
    assert split_globals(["-c", "prod", "run", "-c", "2", "x"]) == ({"context": "prod"}, ["run", "-c", "2", "x"])
    assert split_globals(["build", "-H"]) == ({}, ["build", "-H"])


def test_build_arguments_split_with_the_build_commands_own_flags():
    words, context, dockerfile = split_build_args(["-t", "a:1", "--build-arg", "X=1", "-q", "-f", "../D", "ctx"])
    assert (words[context], words[dockerfile]) == ("ctx", "../D")
    words, context, dockerfile = split_build_args(["--file=x/Dockerfile", "--no-cache", ".", ])
    assert (words[context], words[dockerfile]) == (".", "x/Dockerfile")
    words, context, dockerfile = split_build_args(["-qfDf", "--label", "k=v", "dir"])
    assert (words[context], words[dockerfile]) == ("dir", "Df")
    assert split_build_args(["-t", "x"])[1] is None


def test_the_uploaded_context_is_what_dockerignore_keeps(tmp_path: Path):
    context = tmp_path / "ctx"
    (context / "keep" / "deep").mkdir(parents=True)
    (context / "drop").mkdir()
    (context / "keep" / "deep" / "f").write_text("f")
    (context / "drop" / "g").write_text("g")
    (context / "drop" / "back.txt").write_text("re-included")
    (context / "x.log").write_text("log")
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / ".dockerignore").write_text("drop\n*.log\n!drop/back.txt\nDockerfile\n.dockerignore\n")
    out = io.BytesIO()
    write_context_tar(out, str(context), None, "Dockerfile")
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        members = {member.name: member for member in tar}
    assert sorted(members) == [".dockerignore", "Dockerfile", "drop/back.txt", "keep", "keep/deep", "keep/deep/f"]
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}


def test_scp_destinations():
    assert parse_destination("deploy@hostB::app:2").host == "deploy@hostB"
    assert parse_destination("hostB::").reference == ""
    with pytest.raises(UsageError):
        parse_destination("hostB:app")


def _lamina(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in __import__("os").environ.items()
               if key not in ("LAMINA_HOST", "LAMINA_CONTEXT")}
    environ.update(LAMINA_CONFIG=str(config), LAMINA_ROOT=str(config / "store"), **env)
    return subprocess.run([sys.executable, "-m", "lamina", *args], capture_output=True, env=environ)


def test_contexts_on_disk_and_their_errors(tmp_path: Path):
    config = tmp_path / "config"
    assert _lamina(config, "context", "create", "prod", "--docker", "host=ssh://deploy@hostB:2222").returncode == 0
    assert _lamina(config, "context", "create", "prod", "--docker", "host=ssh://x").stderr.decode() == \
        "lamina: error: context 'prod' already exists\n"
    assert "unsupported host" in _lamina(config, "context", "create", "bad", "--docker", "host=tcp://x").stderr.decode()
    assert "context name 'a' is invalid" in _lamina(config, "context", "create", "a").stderr.decode()
    assert _lamina(config, "context", "use", "prod").returncode == 0
    assert _lamina(config, "context", "show").stdout == b"prod\n"
    assert (config / "contexts" / "prod.json").exists()
    both = _lamina(config, "-H", "ssh://a", "--context", "prod", "images")
    assert both.stderr.decode() == "lamina: error: conflicting options: either specify --host or --context, not both\n"
    missing = _lamina(config, "--context", "nope", "images")
    assert missing.stderr.decode() == "lamina: error: context 'nope' does not exist\n"
    assert _lamina(config, "context", "use", "default").returncode == 0
    assert not (config / "config.json").exists()  # default again: nothing is read before each command
    assert _lamina(config, "context", "rm", "prod").stdout == b"prod\n"
    assert _lamina(config, "context", "ls", "-q").stdout == b"default\n"


def test_a_missing_remote_lamina_is_named():
    from lamina.remote.transport import remote_error_line

    assert remote_error_line(b"bash: line 1: lamina: command not found\n").startswith("lamina is not installed there")
    assert remote_error_line(b"noise\nlamina: error: No such image: x\n") == "No such image: x"
