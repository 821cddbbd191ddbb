"""``private`` networking: a container netns with outbound access and published ports, from
slirp4netns (user-mode TCP/IP), without a bridge or any iptables rule on the host.

slirp4netns joins the container's network namespace (made beforehand, see
``lamina.runtime.netns``), creates ``tap0`` there (10.0.2.100/24, gateway 10.0.2.2, DNS
forwarder 10.0.2.3) and then lives in the host's namespace, where it listens on the published
host ports (``add_hostfwd`` over its API socket) and relays to the container. It exits when the ``--exit-fd`` pipe closes: the monitor holds
the other end, so a monitor that dies takes slirp4netns with it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

from lamina.errors import RuntimeError_
from lamina.runtime.binaries import which
from lamina.runtime.ports import PortBinding

__all__ = ["CONTAINER_ADDRESS", "DNS_ADDRESS", "PortBinding", "Slirp", "find_slirp4netns", "start_slirp"]

CONTAINER_ADDRESS = "10.0.2.100"
DNS_ADDRESS = "10.0.2.3"
_READY_TIMEOUT = 10.0


class Slirp:
    """A slirp4netns for one container: started by :func:`start_slirp`, usable after
    :meth:`wait_ready`."""

    def __init__(self, process: subprocess.Popen, exit_fd: int, ready_fd: int, api_socket: Path, log: Path):
        self.process = process
        self._exit_fd: int | None = exit_fd
        self._ready_fd: int | None = ready_fd
        self.api_socket = api_socket
        self.log = log

    def wait_ready(self) -> None:
        """Block until ``tap0`` is configured (RuntimeError_ if slirp4netns failed)."""
        if self._ready_fd is None:
            return
        try:
            deadline = time.monotonic() + _READY_TIMEOUT
            ready = b""
            while not ready:
                remaining = deadline - time.monotonic()
                readable, _, _ = select.select([self._ready_fd], [], [], max(0.0, remaining))
                if not readable:
                    raise RuntimeError_("slirp4netns did not come up in time")
                ready = os.read(self._ready_fd, 1)
                if not ready:
                    raise RuntimeError_(f"slirp4netns failed: {_last_line(self.log)}")
        finally:
            os.close(self._ready_fd)
            self._ready_fd = None

    def add_port(self, binding: PortBinding) -> None:
        """Listen on the host side of ``binding`` (RuntimeError_ with docker's wording if taken)."""
        request = {"execute": "add_hostfwd", "arguments": {
            "proto": binding.protocol, "host_addr": binding.host_ip or "0.0.0.0",
            "host_port": binding.host_port, "guest_port": binding.container_port}}
        reply = self._call(request)
        if "error" in reply:
            address = f"{binding.host_ip or '0.0.0.0'}:{binding.host_port}"
            taken = _bind_refusal(binding)
            if taken:  # docker's words when another process holds the port
                raise RuntimeError_(f"driver failed programming external connectivity: Error starting userland "
                                    f"proxy: listen {binding.protocol}4 {address}: bind: {taken}")
            reason = (reply["error"] or {}).get("desc", "unknown error")
            raise RuntimeError_(f"driver failed programming external connectivity: Bind for {address} failed: "
                                f"{reason}")

    def stop(self, *, wait: bool = True) -> None:
        """Tell slirp4netns to exit (it closes its listening ports); ``wait`` for it."""
        for name in ("_exit_fd", "_ready_fd"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)
        if not wait:
            return
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _call(self, request: dict) -> dict:
        import socket

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
    return which("slirp4netns", "/usr/bin/slirp4netns", "/usr/local/bin/slirp4netns")


def start_slirp(netns: str, api_socket: Path, log: Path) -> Slirp:
    """Start configuring ``tap0`` in the network namespace at path ``netns``; returns at once
    (see :meth:`Slirp.wait_ready`)."""
    binary = find_slirp4netns()
    if binary is None:
        raise RuntimeError_("slirp4netns is not installed (needed for --network private and -p): "
                            "apt-get install slirp4netns")
    exit_read, exit_write = os.pipe()
    ready_read, ready_write = os.pipe()
    api_socket.unlink(missing_ok=True)
    command = [binary, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox",
               "--exit-fd", str(exit_read), "--ready-fd", str(ready_write), "--api-socket", os.fspath(api_socket),
               "--netns-type=path", netns, "tap0"]
    with open(log, "ab") as log_file:
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                       pass_fds=(exit_read, ready_write), start_new_session=True)
        except BaseException:
            for fd in (exit_write, ready_read):
                os.close(fd)
            raise
        finally:
            os.close(exit_read)
            os.close(ready_write)
    return Slirp(process, exit_write, ready_read, api_socket, log)


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1] if lines else "no output"


def _bind_refusal(binding: PortBinding) -> str:
    """Why the host refuses to bind ``binding``'s address (``address already in use``), or ""."""
    import socket

    kind = socket.SOCK_DGRAM if binding.protocol == "udp" else socket.SOCK_STREAM
    try:
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind((binding.host_ip or "0.0.0.0", binding.host_port))
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    return ""
