"""Network modes and the ``/etc`` files a container sees for them.

``host`` shares the host's network namespace (``docker build --network host``: what lets
``apt-get`` work without a bridge or NAT rules), so the container gets the host's
``/etc/hosts``, ``/etc/resolv.conf`` and hostname, as docker does for host networking.
``none`` gives a fresh namespace with only ``lo``; the files are docker's defaults and the
hostname is the short container ID. ``default`` (a RUN step without ``--network``) looks like
docker's default bridge from inside: the short ID as hostname and docker's default ``/etc/hosts``,
while it still uses the host's network namespace and resolver, so ``apt-get`` works without a
bridge. The files are generated per container and bound over the
rootfs (writable, as docker's, unless the root is read-only), so nothing a process writes to
them reaches the host or a layer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lamina.runtime.spec import EtcFiles

__all__ = ["NETWORK_MODES", "container_hostname", "write_etc_files"]

NETWORK_MODES = ("host", "none", "default")

_DEFAULT_HOSTS = """127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
"""
_LOOPBACK_NAMESERVER = re.compile(r"^\s*nameserver\s+(127\.\S*|::1)\s*$", re.MULTILINE)


def container_hostname(network: str, container_id: str) -> str:
    """The host's name with host networking (as docker), else the 12-digit short ID."""
    return os.uname().nodename if network == "host" else container_id[:12]


def write_etc_files(directory: Path, network: str, hostname: str) -> EtcFiles:
    """Write ``hosts``, ``resolv.conf`` and ``hostname`` for ``network`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    if network == "host":
        hosts = _read("/etc/hosts") or _DEFAULT_HOSTS
        resolv = _read("/etc/resolv.conf")
    elif network == "default":
        hosts = _DEFAULT_HOSTS
        resolv = _read("/etc/resolv.conf")  # the host's namespace: its resolver answers, even on loopback
    else:
        hosts = _DEFAULT_HOSTS
        # Another namespace's loopback is not the host's resolver: drop such nameservers, like
        # docker, and leave an empty file rather than a wrong one.
        resolv = _LOOPBACK_NAMESERVER.sub("", _read("/etc/resolv.conf"))
    files = {"hosts": hosts, "resolv.conf": resolv, "hostname": hostname + "\n"}
    for name, text in files.items():
        (directory / name).write_text(text)
        (directory / name).chmod(0o644)
    return EtcFiles(resolv_conf=directory / "resolv.conf", hosts=directory / "hosts", hostname=directory / "hostname")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
