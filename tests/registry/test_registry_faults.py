"""Transfers through a misbehaving proxy still finish and verify, or fail with a clear error."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from servers import Fault, FaultProxy, free_port, make_client, push_blob, random_bytes

from lamina.errors import DigestMismatchError, RegistryError
from lamina.registry.client import RegistryClient
from lamina.registry.credentials import Credential

MIB = 1024 * 1024


@pytest.fixture
def stored_blob(anon_client: RegistryClient) -> tuple[str, bytes]:
    data = random_bytes(3 * MIB + 123)
    return push_blob(anon_client, "faults/blob", data), data


def fetch(client: RegistryClient, digest: str, size: int | None = None, repository: str = "faults/blob") -> bytes:
    sink = io.BytesIO()
    client.fetch_blob(repository, digest, sink, expected_size=size)
    return sink.getvalue()


def test_dropped_download_resumes_with_range(fault_proxy: FaultProxy, stored_blob) -> None:
    digest, data = stored_blob
    fault_proxy.add(Fault("GET", "/blobs/", "drop_response", after_bytes=MIB + 5))
    with make_client(fault_proxy.host) as client:
        assert fetch(client, digest, len(data)) == data
    gets = fault_proxy.requests("GET", "/blobs/")
    assert len(gets) == 2
    assert "Range" not in gets[0].headers
    resumed_at = int(gets[1].headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= MIB + 5


def test_dropped_download_without_known_size_still_resumes(fault_proxy: FaultProxy, stored_blob) -> None:
    digest, data = stored_blob
    fault_proxy.add(Fault("GET", "/blobs/", "drop_response", after_bytes=2 * MIB))
    with make_client(fault_proxy.host) as client:
        assert fetch(client, digest) == data
    assert "Range" in fault_proxy.requests("GET", "/blobs/")[-1].headers


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(fault_proxy: FaultProxy, stored_blob, status: int) -> None:
    digest, data = stored_blob
    fault_proxy.add(Fault("GET", "/blobs/", "status", status=status))
    with make_client(fault_proxy.host) as client:
        assert fetch(client, digest, len(data)) == data
    assert [r.fault for r in fault_proxy.requests("GET", "/blobs/")] == ["status", None]


def test_too_many_requests_waits_for_retry_after(fault_proxy: FaultProxy, stored_blob) -> None:
    digest, data = stored_blob
    fault_proxy.add(Fault("GET", "/blobs/", "status", status=429, headers={"Retry-After": "1"}))
    with make_client(fault_proxy.host) as client:
        started = time.monotonic()
        assert fetch(client, digest, len(data)) == data
        assert time.monotonic() - started >= 0.95


def test_slow_responses_finish(fault_proxy: FaultProxy, stored_blob) -> None:
    digest, data = stored_blob
    fault_proxy.add(Fault("GET", "/blobs/", "slow", delay=0.005))
    with make_client(fault_proxy.host) as client:
        assert fetch(client, digest, len(data)) == data


def test_tampered_blob_raises_digest_mismatch_naming_the_blob(fault_proxy: FaultProxy, stored_blob) -> None:
    digest, data = stored_blob
    fault_proxy.add(Fault("GET", "/blobs/", "tamper"))
    with make_client(fault_proxy.host) as client, pytest.raises(DigestMismatchError) as caught:
        fetch(client, digest, len(data))
    assert digest in str(caught.value) and "does not match its digest" in str(caught.value)


def test_tampered_manifest_raises_digest_mismatch(fault_proxy: FaultProxy, anon_client: RegistryClient) -> None:
    from servers import tiny_image

    from lamina.registry.client import DOCKER_MANIFEST

    layer, config, manifest, _ = tiny_image("tamper")
    push_blob(anon_client, "faults/manifest", layer)
    push_blob(anon_client, "faults/manifest", config)
    digest = anon_client.put_manifest("faults/manifest", "v1", manifest, DOCKER_MANIFEST)
    fault_proxy.add(Fault("GET", "/manifests/", "tamper", times=2))
    with make_client(fault_proxy.host) as client:
        with pytest.raises(DigestMismatchError):
            client.get_manifest("faults/manifest", digest)
        with pytest.raises(DigestMismatchError):
            client.get_manifest("faults/manifest", "v1")  # checked against Docker-Content-Digest


def test_blob_larger_than_announced_is_refused(fault_proxy: FaultProxy, stored_blob) -> None:
    digest, data = stored_blob
    with make_client(fault_proxy.host) as client, pytest.raises(DigestMismatchError, match="larger"):
        fetch(client, digest, len(data) - 1)


def test_fetch_continues_after_bytes_already_in_the_sink(anon_client: RegistryClient, stored_blob,
                                                         tmp_path: Path) -> None:
    digest, data = stored_blob
    partial = tmp_path / "partial"
    partial.write_bytes(data[: MIB + 1])
    with partial.open("r+b") as sink:
        size = anon_client.fetch_blob("faults/blob", digest, sink, expected_size=len(data), offset=MIB + 1)
    assert size == len(data) and partial.read_bytes() == data


def test_download_gives_up_after_five_attempts(fault_proxy: FaultProxy, stored_blob) -> None:
    digest, data = stored_blob
    fault_proxy.add(Fault("GET", "/blobs/", "drop_response", after_bytes=10, times=10))
    with make_client(fault_proxy.host) as client, pytest.raises(RegistryError, match="after 5 attempts"):
        fetch(client, digest, len(data))


def test_unreachable_registry_names_the_host(config) -> None:
    port = free_port()
    with make_client(f"127.0.0.1:{port}") as client, pytest.raises(RegistryError) as caught:
        client.ping()
    assert f"cannot reach 127.0.0.1:{port}" in str(caught.value)


def test_upload_survives_a_server_error_on_patch(fault_proxy: FaultProxy) -> None:
    data = random_bytes(2 * MIB + 1)
    fault_proxy.add(Fault("PATCH", "/blobs/uploads/", "status", status=503))
    with make_client(fault_proxy.host) as client:
        digest = push_blob(client, "faults/up503", data)
        assert fetch(client, digest, len(data), "faults/up503") == data


def test_upload_resumes_at_the_offset_the_registry_reports(fault_proxy: FaultProxy) -> None:
    # The second chunk's PATCH is cut before it reaches the registry: the registry holds the
    # first chunk, says so on GET <location>, and the upload continues from there.
    data = random_bytes(3 * MIB)
    fault_proxy.add(Fault("PATCH", "/blobs/uploads/", "drop_request", after_bytes=4096, skip=1))
    with make_client(fault_proxy.host) as client:
        digest = push_blob(client, "faults/resume", data, chunk_size=MIB)
        assert fetch(client, digest, len(data), "faults/resume") == data
    patches = fault_proxy.requests("PATCH")
    ranges = [p.headers.get("Content-Range") for p in patches]
    assert ranges == ["0-1048575", "1048576-2097151", "1048576-2097151", "2097152-3145727"]
    assert [p.fault for p in patches] == [None, "drop_request", None, None]
    assert len(fault_proxy.requests("POST")) == 1  # resumed, not restarted
    status_checks = [r for r in fault_proxy.requests("GET", "/blobs/uploads/")]
    assert len(status_checks) == 1


def test_upload_restarts_when_the_registry_cannot_resume(fault_proxy: FaultProxy) -> None:
    # A monolithic PATCH cut half way leaves distribution with bytes its upload state does not
    # know about; it refuses to resume, so the upload starts over.
    data = random_bytes(2 * MIB)
    fault_proxy.add(Fault("PATCH", "/blobs/uploads/", "cut_request", after_bytes=MIB))
    with make_client(fault_proxy.host) as client:
        digest = push_blob(client, "faults/restart", data)
        assert fetch(client, digest, len(data), "faults/restart") == data
    assert [p.fault for p in fault_proxy.requests("PATCH")] == ["cut_request", None]
    assert len(fault_proxy.requests("POST")) == 2


def test_dropped_monolithic_patch_resumes_when_nothing_arrived(fault_proxy: FaultProxy) -> None:
    data = random_bytes(2 * MIB)
    fault_proxy.add(Fault("PATCH", "/blobs/uploads/", "drop_request", after_bytes=MIB))
    with make_client(fault_proxy.host) as client:
        digest = push_blob(client, "faults/nothing-arrived", data)
        assert fetch(client, digest, len(data), "faults/nothing-arrived") == data
    assert [p.fault for p in fault_proxy.requests("PATCH")] == ["drop_request", None]
    assert len(fault_proxy.requests("POST")) == 1


def test_redirect_to_storage_does_not_carry_our_credentials(basic_registry) -> None:
    from servers import PASSWORD, USER

    credential = Credential(USER, PASSWORD)
    # "localhost" is another origin than "127.0.0.1": the storage proxy plays a pre-signed URL by
    # adding credentials of its own.
    storage = FaultProxy(basic_registry.port, inject_headers={
        "Authorization": "Basic " + __import__("base64").b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    }).start()
    front = FaultProxy(basic_registry.port).start()
    try:
        data = random_bytes(MIB + 7)
        with make_client(front.host, credential) as client:
            digest = push_blob(client, "faults/redirect", data)
            front.add(Fault("GET", "/blobs/sha256", "redirect", target=f"http://localhost:{storage.port}"))
            assert fetch(client, digest, len(data), "faults/redirect") == data
        assert [r.fault for r in front.requests("GET", "/blobs/sha256")] == ["redirect"]
        stored = storage.requests("GET", "/blobs/")
        assert len(stored) == 1 and "Authorization" not in stored[0].headers
    finally:
        storage.stop()
        front.stop()


def test_resume_from_a_server_that_ignores_range_skips_the_bytes_already_here(fault_proxy: FaultProxy,
                                                                             stored_blob) -> None:
    digest, data = stored_blob
    fault_proxy.add(Fault("GET", "/blobs/", "drop_response", after_bytes=MIB + 5))
    fault_proxy.add(Fault("GET", "/blobs/", "ignore_range"))
    with make_client(fault_proxy.host) as client:
        assert fetch(client, digest, len(data)) == data
    gets = fault_proxy.requests("GET", "/blobs/")
    assert [g.fault for g in gets] == ["drop_response", "ignore_range"] and "Range" in gets[1].headers


def test_retry_after_as_an_http_date_is_honoured(fault_proxy: FaultProxy, stored_blob) -> None:
    from email.utils import formatdate

    digest, data = stored_blob
    fault_proxy.add(Fault("GET", "/blobs/", "status", status=503,
                          headers={"Retry-After": formatdate(time.time() + 2, usegmt=True)}))
    with make_client(fault_proxy.host) as client:
        started = time.monotonic()
        assert fetch(client, digest, len(data)) == data
        assert time.monotonic() - started >= 0.9  # not the 0.05 s backoff of make_client


def test_a_token_the_registry_rejects_is_fetched_again(token_registry, token_server) -> None:
    from servers import PASSWORD, TOKEN_SERVICE, USER

    credential = Credential(USER, PASSWORD)
    front = FaultProxy(token_registry.port).start()
    try:
        data = random_bytes(50_000)
        with make_client(front.host, credential) as client:
            digest = push_blob(client, "faults/revoked", data)
            assert fetch(client, digest, len(data), "faults/revoked") == data
            before = token_server.count()
            # the registry no longer takes the cached token (revoked, clock skew): it says so with 401
            challenge = (f'Bearer realm="{token_server.realm}",service="{TOKEN_SERVICE}",'
                         'scope="repository:faults/revoked:pull",error="invalid_token"')
            front.add(Fault("GET", "/blobs/", "status", status=401, headers={"WWW-Authenticate": challenge}))
            assert fetch(client, digest, len(data), "faults/revoked") == data
            assert token_server.count() == before + 1
        gets = front.requests("GET", "/blobs/")
        assert [g.fault for g in gets[-2:]] == ["status", None]
        assert gets[-1].headers["Authorization"] != gets[-2].headers["Authorization"]
    finally:
        front.stop()
