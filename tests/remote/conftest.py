"""Hosts that look like several machines: network namespaces joined by a bridge, each with its
own lamina store and its own ``sshd`` (Debian's openssh-server) on its own address.

The namespaces are held by ``unshare --net sleep`` processes and entered with ``nsenter``
(not ``ip netns add``: named namespaces under /run/netns are shared with every other test
run on the machine, and one run's cleanup can unmount another's). The bridge lives in its own
"switch" namespace, so nothing is added to the machine's own network and traffic never leaves
these namespaces. Keys (host and user) are made per session in a temp dir; the client side
reaches the hosts through an ssh config file (``LAMINA_SSH_COMMAND="ssh -F FILE"``) whose
aliases, identity and known_hosts are the ones ssh reads from ``~/.ssh/config`` in real use.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require_tool

VENV_BIN = Path(sys.executable).parent
SUBNET = "10.77.0"


class Host:
    """One "machine": a network namespace, a lamina store, an sshd, a lamina config dir."""

    def __init__(self, name: str, address: str, base: Path, keeper: subprocess.Popen, ssh_config: Path):
        self.name, self.address, self.base, self.keeper = name, address, base, keeper
        self.root = base / "store"
        self.config = base / "config"
        self.ssh_config = ssh_config
        self.sshd: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.keeper.pid

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if key not in ("LAMINA_HOST", "LAMINA_CONTEXT", "LAMINA_REMOTE_COMMAND")}
        env.update(LAMINA_ROOT=str(self.root), LAMINA_CONFIG=str(self.config),
                   LAMINA_SSH_COMMAND=f"ssh -F {self.ssh_config}")
        env.update(extra)
        return env

    def inside(self, *argv: str) -> list[str]:
        return ["nsenter", "-t", str(self.pid), "-n", *argv]

    def run(self, *args: str, input: bytes | None = None, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        """``lamina ARGS`` typed on this host."""
        result = subprocess.run(self.inside(sys.executable, "-m", "lamina", *args), input=input, capture_output=True,
                                env=env or self.env(), timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"[{self.name}] lamina {' '.join(args)} failed ({result.returncode}): "
                                 f"{result.stderr.decode()}")
        return result

    def out(self, *args: str, **kwargs) -> str:
        return self.run(*args, **kwargs).stdout.decode()

    def fails(self, *args: str, env: dict[str, str] | None = None) -> str:
        """A command that must fail with exactly one ``lamina: error:`` line, no traceback."""
        result = self.run(*args, check=False, env=env)
        stderr = result.stderr.decode()
        assert result.returncode != 0, f"lamina {' '.join(args)} should have failed"
        assert "Traceback" not in stderr, stderr
        errors = [line for line in stderr.splitlines() if line.startswith("lamina: error: ")]
        assert len(errors) == 1, stderr
        return errors[0]

    def shell(self, command: str, *, input: bytes | None = None, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.inside("sh", "-c", command), input=input, capture_output=True,
                              env=env or self.env(), timeout=timeout)


class Network:
    """The switch and the hosts on it; ``hosts["hostA"]``, ``hosts["hostB"]``."""

    def __init__(self, base: Path):
        self.base = base
        self.keepers: list[subprocess.Popen] = []
        self.hosts: dict[str, Host] = {}

    def host(self, name: str) -> Host:
        return self.hosts[name]


def _keeper() -> subprocess.Popen:
    """A process holding a fresh network namespace (and nothing else) open."""
    process = subprocess.Popen(["unshare", "--net", "sleep", "infinity"], start_new_session=True)
    for _ in range(100):  # until the child runs in its own namespace
        try:
            if os.readlink(f"/proc/{process.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                return process
        except OSError:
            pass
        time.sleep(0.02)
    process.kill()
    pytest.fail("unshare --net did not make a network namespace")


def _sh(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(argv)}: {result.stderr.decode().strip()}")


@pytest.fixture(scope="session")
def network(tmp_path_factory):
    """Two hosts (hostA 10.77.0.1, hostB 10.77.0.2) with sshd each, on one bridge."""
    sshd = require_tool("sshd", "openssh-server")
    require_tool("ssh", "openssh-client")
    require_tool("nsenter", "util-linux")
    if os.geteuid() != 0:
        pytest.fail("the remote tests make network namespaces: run them as root ('make test' does)")
    base = tmp_path_factory.mktemp("hosts")
    net = Network(base)
    keys = base / "keys"
    keys.mkdir()
    for key in ("host_key", "user_key"):
        _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", str(keys / key))
    (keys / "authorized_keys").write_text((keys / "user_key.pub").read_text())
    host_public = " ".join((keys / "host_key.pub").read_text().split()[:2])
    ssh_config = base / "ssh_config"
    known_hosts = base / "known_hosts"
    switch = _keeper()
    net.keepers.append(switch)
    try:
        _sh("nsenter", "-t", str(switch.pid), "-n", "ip", "link", "add", "br0", "type", "bridge")
        _sh("nsenter", "-t", str(switch.pid), "-n", "ip", "link", "set", "br0", "up")
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        config_lines, known_lines = [], []
        for number, name in enumerate(("hostA", "hostB"), start=1):
            keeper = _keeper()
            net.keepers.append(keeper)
            address = f"{SUBNET}.{number}"
            host = Host(name, address, base / name, keeper, ssh_config)
            host.base.mkdir()
            port = f"p{number}"
            _sh("nsenter", "-t", str(switch.pid), "-n", "ip", "link", "add", port, "type", "veth", "peer", "name",
                "eth0", "netns", str(keeper.pid))
            _sh("nsenter", "-t", str(switch.pid), "-n", "ip", "link", "set", port, "master", "br0", "up")
            for command in (["ip", "addr", "add", f"{address}/24", "dev", "eth0"], ["ip", "link", "set", "eth0", "up"],
                            ["ip", "link", "set", "lo", "up"]):
                _sh(*host.inside(*command))
            sshd_config = host.base / "sshd_config"
            sshd_config.write_text("\n".join([
                f"ListenAddress {address}", "Port 22", f"HostKey {keys / 'host_key'}", "UsePAM no",
                "PermitRootLogin prohibit-password", f"AuthorizedKeysFile {keys / 'authorized_keys'}",
                "StrictModes no", "PidFile none", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                # this host's own lamina store and config, for whoever logs in
                f"SetEnv LAMINA_ROOT={host.root} LAMINA_CONFIG={host.config} "
                f"PATH={VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ]) + "\n")
            host.sshd = subprocess.Popen(host.inside(sshd, "-D", "-e", "-f", str(sshd_config)),
                                         stdout=subprocess.DEVNULL, stderr=open(host.base / "sshd.log", "wb"))
            config_lines += [f"Host {name}", f"  HostName {address}", "  User root",
                             f"  IdentityFile {keys / 'user_key'}", "  IdentitiesOnly yes",
                             f"  UserKnownHostsFile {known_hosts}", "  StrictHostKeyChecking yes",
                             "  ConnectTimeout 10", ""]
            known_lines.append(f"{address} {host_public}")
            net.hosts[name] = host
        ssh_config.write_text("\n".join(config_lines))
        known_hosts.write_text("\n".join(known_lines) + "\n")
        for host in net.hosts.values():  # every sshd answers before the first test
            other = net.hosts["hostA" if host.name == "hostB" else "hostB"]
            for _ in range(100):
                probe = subprocess.run(other.inside("ssh", "-F", str(ssh_config), "-o", "BatchMode=yes", host.name, "true"),
                                       capture_output=True)
                if probe.returncode == 0:
                    break
                time.sleep(0.1)
            else:
                pytest.fail(f"sshd on {host.name} did not answer: {probe.stderr.decode().strip()}")
        yield net
    finally:
        for host in net.hosts.values():
            _remove_containers(host)
            if host.sshd is not None:
                host.sshd.send_signal(signal.SIGTERM)
                try:
                    host.sshd.wait(10)
                except subprocess.TimeoutExpired:
                    host.sshd.kill()
        for keeper in net.keepers:
            keeper.kill()
            keeper.wait()
        shutil.rmtree(base / "keys", ignore_errors=True)


def _remove_containers(host: Host) -> None:
    """Containers the tests left running on a host (a failed test must not leak them)."""
    if not host.root.exists():
        return
    listed = subprocess.run([sys.executable, "-m", "lamina", "ps", "-aq"], capture_output=True, env=host.env())
    ids = listed.stdout.decode().split()
    if ids:
        subprocess.run(host.inside(sys.executable, "-m", "lamina", "rm", "-f", *ids), capture_output=True,
                       env=host.env())


@pytest.fixture
def hosts(network: Network, tmp_path: Path):
    """hostA and hostB with empty stores and no contexts, for one test."""
    for host in network.hosts.values():
        _remove_containers(host)
        for path in (host.root, host.config):
            if path.exists():
                shutil.rmtree(path)
    return network.hosts["hostA"], network.hosts["hostB"]
