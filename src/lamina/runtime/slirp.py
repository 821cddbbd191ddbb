"""``private`` networking: a container netns with outbound access and published ports, from
slirp4netns (user-mode TCP/IP), without a bridge or any iptables rule on the host.

slirp4netns joins the container's network namespace by PID, creates ``tap0`` there
(10.0.2.100/24, gateway 10.0.2.2, DNS forwarder 10.0.2.3) and then lives in the host's
namespace, where it listens on the published host ports (``add_hostfwd`` over its API socket)
and relays to the container. It exits when the ``--exit-fd`` pipe closes: the monitor holds
the other end, so a monitor that dies takes slirp4netns with it.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import time
from pathlib import Path

from lamina.errors import RuntimeError_
from lamina.runtime.ports import PortBinding

__all__ = ["CONTAINER_ADDRESS", "DNS_ADDRESS", "PortBinding", "Slirp", "find_slirp4netns", "start_slirp"]

CONTAINER_ADDRESS = "10.0.2.100"
DNS_ADDRESS = "10.0.2.3"
_READY_TIMEOUT = 10.0


class Slirp:
    """A running slirp4netns for one container."""

    def __init__(self, process: subprocess.Popen, exit_fd: int, api_socket: Path):
        self.process = process
        self._exit_fd: int | None = exit_fd
        self.api_socket = api_socket

    def add_port(self, binding: PortBinding) -> None:
        """Listen on the host side of ``binding`` (RuntimeError_ with docker's wording if taken)."""
        request = {"execute": "add_hostfwd", "arguments": {
            "proto": binding.protocol, "host_addr": binding.host_ip or "0.0.0.0",
            "host_port": binding.host_port, "guest_port": binding.container_port}}
        reply = self._call(request)
        if "error" in reply:
            reason = (reply["error"] or {}).get("desc", "unknown error")
            raise RuntimeError_(f"driver failed programming external connectivity: Bind for "
                                f"{binding.host_ip or '0.0.0.0'}:{binding.host_port} failed: {reason}")

    def stop(self) -> None:
        if self._exit_fd is not None:
            os.close(self._exit_fd)
            self._exit_fd = None
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _call(self, request: dict) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(os.fspath(self.api_socket))
            client.sendall(json.dumps(request).encode())
            client.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := client.recv(4096):
                data += chunk
        try:
            return json.loads(data or b"{}")
        except ValueError:
            return {"error": {"desc": data.decode(errors="replace")}}


def find_slirp4netns() -> str | None:
    return shutil.which("slirp4netns") or next(
        (p for p in ("/usr/bin/slirp4netns", "/usr/local/bin/slirp4netns") if os.access(p, os.X_OK)), None)


def start_slirp(pid: int, api_socket: Path, log: Path) -> Slirp:
    """Give the network namespace of ``pid`` a configured ``tap0``; returns once it is up."""
    binary = find_slirp4netns()
    if binary is None:
        raise RuntimeError_("slirp4netns is not installed (needed for --network private and -p): "
                            "apt-get install slirp4netns")
    exit_read, exit_write = os.pipe()
    ready_read, ready_write = os.pipe()
    api_socket.unlink(missing_ok=True)
    command = [binary, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox",
               "--exit-fd", str(exit_read), "--ready-fd", str(ready_write), "--api-socket", os.fspath(api_socket),
               str(pid), "tap0"]
    with open(log, "ab") as log_file:
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                       pass_fds=(exit_read, ready_write), start_new_session=True)
        finally:
            os.close(exit_read)
            os.close(ready_write)
    slirp = Slirp(process, exit_write, api_socket)
    try:
        deadline = time.monotonic() + _READY_TIMEOUT
        ready = b""
        while not ready:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([ready_read], [], [], max(0.0, remaining))
            if not readable:
                raise RuntimeError_("slirp4netns did not come up in time")
            ready = os.read(ready_read, 1)
            if not ready:
                raise RuntimeError_(f"slirp4netns failed: {_last_line(log)}")
    except BaseException:
        slirp.stop()
        raise
    finally:
        os.close(ready_read)
    return slirp


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1] if lines else "no output"
