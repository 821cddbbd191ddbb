"""A registry reached without verified TLS is named once on stderr (issue 12, item 9), and a
registry that cannot be reached fails at once, saying so (item 13). docker is the oracle for
the failing fast and the shape of its message."""

from __future__ import annotations

import os
import re
import shutil
import time
import warnings

import pytest

from lamina.errors import LaminaWarning
from lamina.registry import client as registry_client
from lamina.registry.client import RegistryClient
from lamina.registry.config import RegistryConfig
from tests.conftest import Lamina

pytestmark = pytest.mark.registry

UNRESOLVABLE = "no-such-host.invalid"  # RFC 2606: never resolves


def _warnings(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if line.startswith("lamina: warning:")]


def test_a_loopback_registry_is_named_once_as_unverified(lamina: Lamina, busybox_tar, anon_registry, tmp_path):
    ref = f"{anon_registry.host}/tls/bb:{os.urandom(3).hex()}"
    lamina.out("import", str(busybox_tar), ref)
    pushed = lamina.run("push", ref)
    expected = [f"lamina: warning: TLS not verified for {anon_registry.host} (insecure registry)"]
    assert _warnings(pushed.stderr) == expected
    pulled = Lamina(tmp_path / "other").run("pull", ref)  # several requests and blobs: still one line
    assert _warnings(pulled.stderr) == expected
    assert b"Pull complete" in pulled.stdout


def test_a_tls_registry_with_its_ca_verified_gets_no_warning(lamina: Lamina, busybox_tar, tls_registry, tmp_path,
                                                              monkeypatch):
    config = tmp_path / "lamina" / "config.toml"
    (config.parent / "certs.d" / tls_registry.host).mkdir(parents=True)
    shutil.copy(tls_registry.tls.ca_cert, config.parent / "certs.d" / tls_registry.host / "ca.crt")
    config.write_text("[registry]\nloopback_insecure = false\n")
    monkeypatch.setenv("LAMINA_CONFIG", str(config))
    ref = f"{tls_registry.host}/tls/verified:{os.urandom(3).hex()}"
    lamina.out("import", str(busybox_tar), ref)
    pushed = lamina.run("push", ref)
    assert _warnings(pushed.stderr) == [] and b"digest: sha256:" in pushed.stdout


def test_a_self_signed_loopback_tls_registry_is_warned_about(lamina: Lamina, busybox_tar, tls_registry):
    ref = f"{tls_registry.host}/tls/unverified:{os.urandom(3).hex()}"
    lamina.out("import", str(busybox_tar), ref)
    pushed = lamina.run("push", ref)
    assert _warnings(pushed.stderr) == [f"lamina: warning: TLS not verified for {tls_registry.host} (insecure registry)"]


def test_the_library_warns_through_python_warnings(anon_registry):
    registry_client._UNVERIFIED_WARNED.discard(anon_registry.host)  # once per process: forget earlier tests
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with RegistryClient(anon_registry.host, config=RegistryConfig()) as client:
            client.ping()
    messages = [str(w.message) for w in caught if issubclass(w.category, LaminaWarning)]
    assert messages == [f"TLS not verified for {anon_registry.host} (insecure registry)"]


def _timed(run):
    start = time.monotonic()
    result = run()
    return result, time.monotonic() - start


@pytest.mark.slow
def test_an_unresolvable_registry_fails_at_once_as_docker(lamina: Lamina, docker):
    reference = f"{UNRESOLVABLE}/team/app:1"
    theirs, docker_seconds = _timed(lambda: docker.run("pull", reference, check=False, timeout=60))
    assert theirs.returncode != 0 and b"no such host" in theirs.stderr and docker_seconds < 5
    stderr, our_seconds = _timed(lambda: lamina.fails("pull", reference))
    assert our_seconds < 5, f"took {our_seconds:.1f}s (was 8 s of retries)"
    assert f"lookup {UNRESOLVABLE}: no such host" in stderr
    assert stderr.count(reference) == 1 and "pull access denied" not in stderr


def test_a_refused_connection_fails_at_once(lamina: Lamina):
    from tests.registry.servers import free_port

    reference = f"127.0.0.1:{free_port()}/team/app:1"
    stderr, seconds = _timed(lambda: lamina.fails("pull", reference))
    assert seconds < 5 and "connect: connection refused" in stderr and stderr.count(reference) == 1


@pytest.mark.slow
def test_from_an_unreachable_registry_says_so_once_as_docker(lamina: Lamina, docker, tmp_path):
    reference = f"{UNRESOLVABLE}/debain:bookworm"
    (tmp_path / "Dockerfile").write_text(f"FROM {reference}\nRUN true\n")
    theirs, docker_seconds = _timed(lambda: docker.run("build", "-q", str(tmp_path), check=False, timeout=60))
    assert theirs.returncode != 0 and b"no such host" in theirs.stderr and docker_seconds < 5
    result, our_seconds = _timed(lambda: lamina.run("build", "-q", str(tmp_path), check=False))
    stderr = result.stderr.decode()
    assert result.returncode != 0 and our_seconds < 5, stderr
    [error] = [line for line in stderr.splitlines() if line.startswith("lamina: error:")]
    assert re.fullmatch(rf"lamina: error: Dockerfile:1: {re.escape(reference)}: cannot reach {UNRESOLVABLE}: "
                        rf"lookup {UNRESOLVABLE}: no such host", error), error
    assert "pull access denied" not in stderr


def test_unreachable_errors_are_told_in_go_s_words():
    import errno
    import socket

    import httpx

    def failure(cause: BaseException) -> httpx.ConnectError:
        try:
            raise httpx.ConnectError("connect failed") from cause
        except httpx.ConnectError as exc:
            return exc

    cases = {
        "lookup reg.example: no such host": socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        "connect: network is unreachable": OSError(errno.ENETUNREACH, "Network is unreachable"),
        "connect: no route to host": OSError(errno.EHOSTUNREACH, "No route to host"),
        "connect: connection refused": ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    }
    for words, cause in cases.items():
        exc = failure(cause)
        assert registry_client._unreachable(exc)
        assert registry_client._transport_reason(exc, "reg.example:5000") == words
    assert not registry_client._unreachable(failure(TimeoutError("timed out")))
