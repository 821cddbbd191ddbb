"""``-p``/``--publish`` specs as docker parses them (go-connections ``nat.ParsePortSpec``)."""

from __future__ import annotations

from collections import namedtuple

from lamina.errors import UsageError
from lamina.runtime.flagerror import FlagError

__all__ = ["PortBinding", "allocate_host_ports", "format_ports", "parse_expose", "parse_publish"]


class PortBinding(namedtuple("PortBinding", "container_port protocol host_ip host_port",
                  defaults=("tcp", "", 0))):
    """``-p [host_ip:]host_port:container_port[/proto]`` after parsing (host_port 0 = any)."""

    # container_port: int; protocol: str; host_ip: str; host_port: int
    __slots__ = ()

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.protocol}"


def parse_publish(spec: str) -> list[PortBinding]:
    """``[ip:][host_port[-end]]:container_port[-end][/proto]`` or just ``container_port``."""
    text, _, protocol = spec.partition("/")
    protocol = protocol.lower() or "tcp"
    if protocol not in ("tcp", "udp", "sctp"):
        raise FlagError(f"invalid proto: {protocol}")
    if protocol == "sctp":
        raise UsageError("sctp ports cannot be published with --network private (slirp4netns has no sctp)")
    host_ip, host_part, container_part = _split(text)
    if host_ip:
        import ipaddress

        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise FlagError(f"invalid IP address: {host_ip}") from None
    container_ports = _port_range(container_part, "containerPort")
    host_ports = _port_range(host_part, "hostPort") if host_part else [0] * len(container_ports)
    if len(host_ports) != len(container_ports):
        if len(container_ports) != 1:
            raise FlagError(f"invalid ranges specified for container and host Ports: {container_part} and {host_part}")
        # docker: a host range for one container port is where a free host port is taken from
        host_ports = [_free_port_in(host_ports, protocol, host_ip)]
    return [PortBinding(c, protocol, host_ip, h) for c, h in zip(container_ports, host_ports, strict=True)]


def _free_port_in(candidates: list[int], protocol: str, host_ip: str) -> int:
    """The first port of ``candidates`` nothing listens on (the first one if all are taken:
    publishing it then fails in docker's words)."""
    import socket

    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    for port in candidates:
        with socket.socket(family, kind) as probe:
            try:
                probe.bind((host_ip or "0.0.0.0", port))
            except OSError:
                continue
        return port
    return candidates[0]


def parse_expose(spec: str) -> list[str]:
    """``--expose 80`` / ``8000-8002/udp`` → ``["80/tcp"]`` keys of ExposedPorts."""
    text, _, protocol = spec.partition("/")
    protocol = protocol.lower() or "tcp"
    return [f"{port}/{protocol}" for port in _port_range(text, "containerPort")]


def allocate_host_ports(bindings: list[PortBinding]) -> list[PortBinding]:
    """Give bindings without a host port a free one (docker picks from the ephemeral range)."""
    result = []
    for binding in bindings:
        if binding.host_port == 0:
            import socket

            kind = socket.SOCK_DGRAM if binding.protocol == "udp" else socket.SOCK_STREAM
            family = socket.AF_INET6 if ":" in binding.host_ip else socket.AF_INET
            with socket.socket(family, kind) as probe:
                probe.bind((binding.host_ip or "0.0.0.0", 0))
                port = probe.getsockname()[1]
            binding = PortBinding(binding.container_port, binding.protocol, binding.host_ip, port)
        result.append(binding)
    return result


def format_ports(port_map: dict[str, list[dict[str, str]] | None]) -> str:
    """The PORTS column of ``ps``: ``127.0.0.1:8080->80/tcp, 443/tcp``."""
    published, exposed = [], []
    for key in sorted(port_map, key=_port_sort_key):
        bindings = port_map[key]
        if not bindings:
            exposed.append(key)
            continue
        for binding in bindings:
            ip = binding.get("HostIp") or "0.0.0.0"
            published.append(f"{ip}:{binding.get('HostPort')}->{key}")
    return ", ".join(published + exposed)


def _port_sort_key(key: str) -> tuple[int, str]:
    number, _, protocol = key.partition("/")
    return (int(number) if number.isdigit() else 0, protocol)


def _split(text: str) -> tuple[str, str, str]:
    """(ip, host ports, container ports); an IPv6 address is written in brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1:end + 2] != ":":
            raise FlagError(f"invalid IP address: {text}")
        ip, rest = text[1:end], text[end + 2:]
        host, sep, container = rest.partition(":")
        if not sep:
            raise FlagError(f"invalid port specification: {text!r}")
        return ip, host, container
    parts = text.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise FlagError(f"invalid port specification: {text!r}")


def _port_range(text: str, what: str) -> list[int]:
    start_text, dash, end_text = text.partition("-")
    try:
        start = int(start_text, 10)
        end = int(end_text, 10) if dash else start
    except ValueError:
        raise FlagError(f"invalid {what}: {text}") from None
    if not (0 < start <= 65535 and 0 < end <= 65535) or end < start:
        raise FlagError(f"invalid {what}: {text}")
    return list(range(start, end + 1))
