"""The server itself: ping headers, version prefixes, docker's JSON errors, the socket's mode,
bad input, clients that leave mid-stream, idle exit."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time

from tests.service.rawhttp import UnixHTTPConnection, call


def test_ping_answers_what_clients_negotiate_with(service):
    for method in ("GET", "HEAD"):
        status, headers, body = call(str(service.socket), method, "/_ping")
        assert status == 200
        assert headers["Api-Version"] == "1.41"
        assert headers["Builder-Version"] == "1"
        assert headers["OSType"] == "linux"
        assert body == (b"OK" if method == "GET" else b"")


def test_every_path_with_or_without_a_version_prefix(service):
    plain = call(str(service.socket), "GET", "/version")
    for prefix in ("/v1.24", "/v1.41", "/v1.50"):
        status, _, body = call(str(service.socket), "GET", prefix + "/version")
        assert status == 200
        assert json.loads(body)["ApiVersion"] == json.loads(plain[2])["ApiVersion"] == "1.41"
    status, _, body = call(str(service.socket), "GET", "/v1.12/version")
    assert status == 400 and "too old" in json.loads(body)["message"]


def test_the_socket_is_not_open_to_everyone(service):
    assert stat.S_IMODE(os.stat(service.socket).st_mode) == 0o660


def test_unknown_things_are_404_with_a_json_message(service):
    for url in ("/no/such/path", "/v1.41/containers/nosuch/json", "/images/nosuch:1/json", "/volumes/nosuch",
                "/exec/nosuch/json", "/networks/nosuch"):
        status, headers, body = call(str(service.socket), "GET", url)
        assert status == 404, url
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["message"], url


def test_malformed_json_is_400_and_nothing_is_created(service):
    before = call(str(service.socket), "GET", "/containers/json?all=1")[2]
    for body in (b"{not json", b"[1, 2", b'{"Image": "busybox", "Cmd": 7}', b'{"Image": "busybox", "HostConfig": 1}'):
        status, _, answer = call(str(service.socket), "POST", "/containers/create", body=body,
                                 headers={"Content-Type": "application/json"})
        assert status == 400, body
        assert json.loads(answer)["message"]
    assert call(str(service.socket), "GET", "/containers/json?all=1")[2] == before


def test_a_huge_json_body_is_refused(service):
    body = b'{"Image": "busybox", "Env": ["' + b"x" * (17 * 1024 * 1024) + b'"]}'
    status, _, answer = call(str(service.socket), "POST", "/containers/create", body=body,
                             headers={"Content-Type": "application/json"})
    assert status == 413
    assert call(str(service.socket), "GET", "/_ping")[0] == 200


def test_docker_status_codes_for_conflicts_and_missing_images(service):
    status, _, body = call(str(service.socket), "POST", "/containers/create", body={"Image": "nosuch:9"})
    assert status == 404 and "No such image" in json.loads(body)["message"]
    status, _, body = call(str(service.socket), "POST", "/containers/create?name=twin", body={"Image": "busybox"})
    assert status == 201
    status, _, body = call(str(service.socket), "POST", "/containers/create?name=twin", body={"Image": "busybox"})
    assert status == 409, body
    status, _, body = call(str(service.socket), "POST", "/containers/twin/kill")
    assert status == 409
    assert call(str(service.socket), "DELETE", "/containers/twin")[0] == 204


def test_a_chunked_request_body_is_read(service):
    connection = UnixHTTPConnection(str(service.socket))
    payload = json.dumps({"Name": "chunked-volume"}).encode()
    connection.putrequest("POST", "/volumes/create")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.putheader("Content-Type", "application/json")
    connection.endheaders()
    for piece in (payload[:5], payload[5:]):
        connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    assert response.status == 201
    assert json.loads(response.read())["Name"] == "chunked-volume"
    connection.close()
    assert call(str(service.socket), "DELETE", "/volumes/chunked-volume")[0] == 204


def test_keep_alive_serves_several_requests_on_one_connection(service):
    connection = UnixHTTPConnection(str(service.socket))
    for _ in range(3):
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b"OK"
    connection.close()


def test_a_client_leaving_mid_stream_leaves_the_service_serving(service):
    created = json.loads(call(str(service.socket), "POST", "/containers/create",
                              body={"Image": "busybox", "Cmd": ["sh", "-c", "while true; do echo tick; sleep 0.1; done"]}
                              )[2])["Id"]
    assert call(str(service.socket), "POST", f"/containers/{created}/start")[0] == 204
    for url in (f"/containers/{created}/logs?follow=1&stdout=1", "/events", f"/containers/{created}/wait"):
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(str(service.socket))
        raw.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode() if "wait" not in url
                    else f"POST {url} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 200")
        raw.close()  # gone mid-stream
    # half a request, then gone
    raw = socket.socket(socket.AF_UNIX)
    raw.connect(str(service.socket))
    raw.sendall(b"POST /containers/create HTTP/1.1\r\nContent-Length: 500\r\n\r\n{\"Ima")
    raw.close()
    for _ in range(5):
        assert call(str(service.socket), "GET", "/_ping")[0] == 200
    assert call(str(service.socket), "DELETE", f"/containers/{created}?force=1")[0] == 204


def test_the_service_exits_when_idle(tmp_path):
    socket_path = tmp_path / "idle.sock"
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "lamina", "--root", str(tmp_path / "store"), "system",
                                "service", "--time", "1", f"unix://{socket_path}"], stderr=subprocess.PIPE)
    try:
        while not socket_path.exists():
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        assert call(str(socket_path), "GET", "/_ping")[0] == 200
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert time.monotonic() - started < 15
    assert not socket_path.exists()


def test_tcp_elsewhere_than_loopback_warns_that_the_api_is_root_equivalent(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "lamina", "--root", str(tmp_path / "store"), "system",
                                "service", "--time", "1", "tcp://0.0.0.0:0"], stderr=subprocess.PIPE)
    _, stderr = process.communicate(timeout=20)
    assert b"lamina: warning:" in stderr and b"root" in stderr
    process = subprocess.Popen([sys.executable, "-m", "lamina", "--root", str(tmp_path / "store"), "system",
                                "service", "--time", "1", "tcp://127.0.0.1:0"], stderr=subprocess.PIPE)
    _, stderr = process.communicate(timeout=20)
    assert b"warning" not in stderr and b"tcp://127.0.0.1:" in stderr


def test_sigterm_stops_the_service_and_removes_its_socket(tmp_path):
    socket_path = tmp_path / "term.sock"
    process = subprocess.Popen([sys.executable, "-m", "lamina", "--root", str(tmp_path / "store"), "system",
                                "service", "--time", "0", f"unix://{socket_path}"], stderr=subprocess.PIPE)
    try:
        while not socket_path.exists():
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        process.terminate()
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not socket_path.exists()


def test_concurrent_creates_of_one_name_make_one_container(service):
    import threading

    statuses: list[int] = []

    def create() -> None:
        statuses.append(call(str(service.socket), "POST", "/containers/create?name=racer",
                             body={"Image": "busybox", "Cmd": ["true"]})[0])

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    listed = json.loads(call(str(service.socket), "GET", '/containers/json?all=1&filters={"name":["racer"]}')[2])
    assert len(listed) == 1
    assert call(str(service.socket), "DELETE", "/containers/racer")[0] == 204
