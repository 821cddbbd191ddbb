"""Where and how to reach registries: mirrors, insecure hosts, certificates, concurrency.

The settings follow dockerd's (``registry-mirrors``, ``insecure-registries``,
``/etc/docker/certs.d``, ``max-concurrent-downloads``) so a machine set up for docker needs no
second configuration; they are read from lamina's own TOML file because lamina has no daemon
whose ``daemon.json`` could hold them. The file format is documented in docs/registry.md.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina.errors import RegistryError

#: The name references use for Docker Hub, and the host its v2 API really answers on.
DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

#: Docker's system-wide certificate directory, honoured so one CA install serves both tools.
DOCKER_CERTS_DIR = Path("/etc/docker/certs.d")


@dataclass(frozen=True)
class Endpoint:
    """One base URL to try for a registry: the registry itself or one of its mirrors.

    ``scheme`` is None when it is still to be found out (HTTPS first, HTTP for insecure hosts).
    """

    host: str
    scheme: str | None = None
    path_prefix: str = ""
    mirror: bool = False
    insecure: bool = False


@dataclass(frozen=True)
class TLSFiles:
    """Certificate files found for one host in the certs.d directories."""

    ca_files: tuple[Path, ...] = ()
    client_pairs: tuple[tuple[Path, Path], ...] = ()


@dataclass(frozen=True)
class RegistryConfig:
    """Registry settings shared by every client of one lamina process.

    ``registry_mirrors`` are Docker Hub's mirrors (docker's ``registry-mirrors``); ``mirrors``
    maps any other registry host to its own. ``insecure_registries`` holds hosts, ``host:port``
    or CIDR ranges that may be reached without verified TLS; loopback is always among them
    (docker's default) unless ``loopback_insecure`` is switched off.
    """

    registry_mirrors: tuple[str, ...] = ()
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    insecure_registries: tuple[str, ...] = ()
    loopback_insecure: bool = True
    certs_dirs: tuple[Path, ...] = ()
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    source: Path | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> RegistryConfig:
        """Read the lamina config file (``$LAMINA_CONFIG``, else the per-user or root default).

        A missing file gives the defaults; a malformed one is an error, because silently
        ignoring a mirror or CA setting would send traffic somewhere the user did not intend.
        """
        config_path = Path(path) if path is not None else default_config_path()
        certs_dirs = (DOCKER_CERTS_DIR, config_path.parent / "certs.d")
        if not config_path.is_file():
            return cls(certs_dirs=certs_dirs, source=None)
        import tomllib  # only when there is a file: most commands have none

        try:
            document = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RegistryError(f"cannot read lamina config {config_path}: {exc}") from None
        return cls.from_mapping(document, certs_dirs=certs_dirs, source=config_path)

    @classmethod
    def from_mapping(
        cls,
        document: Mapping[str, Any],
        *,
        certs_dirs: Sequence[Path] = (),
        source: Path | None = None,
    ) -> RegistryConfig:
        """Build the settings from a parsed config document (top level or its ``[registry]`` table)."""
        section = document.get("registry", document)
        where = str(source) if source else "lamina config"

        def strings(value: Any, key: str) -> tuple[str, ...]:
            if value is None:
                return ()
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise RegistryError(f"{where}: '{key}' must be a list of strings")
            return tuple(value)

        def positive_int(key: str, default: int) -> int:
            value = section.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RegistryError(f"{where}: '{key}' must be a positive integer")
            return value

        mirrors: dict[str, tuple[str, ...]] = {}
        insecure = list(strings(section.get("insecure_registries"), "insecure_registries"))
        extra_certs: list[Path] = []
        per_registry = section.get("registries", {})
        if not isinstance(per_registry, Mapping):
            raise RegistryError(f"{where}: '[registries]' must be a table of hosts")
        for host, settings in per_registry.items():
            if not isinstance(settings, Mapping):
                raise RegistryError(f"{where}: '[registries.\"{host}\"]' must be a table")
            key = canonical_host(host)
            if "mirrors" in settings:
                mirrors[key] = strings(settings["mirrors"], f"registries.{host}.mirrors")
            if settings.get("insecure") is True:
                insecure.append(key)
            if "certs_dir" in settings:
                extra_certs.append(Path(str(settings["certs_dir"])))
        hub_mirrors = strings(section.get("registry_mirrors"), "registry_mirrors")
        if DOCKER_HUB in mirrors and not hub_mirrors:
            hub_mirrors = mirrors.pop(DOCKER_HUB)
        loopback = section.get("loopback_insecure", True)
        if not isinstance(loopback, bool):
            raise RegistryError(f"{where}: 'loopback_insecure' must be true or false")
        configured_certs = [Path(p) for p in strings(section.get("certs_dirs"), "certs_dirs")]
        return cls(
            registry_mirrors=hub_mirrors,
            mirrors=mirrors,
            insecure_registries=tuple(insecure),
            loopback_insecure=loopback,
            certs_dirs=tuple(configured_certs) + tuple(certs_dirs) + tuple(extra_certs),
            max_concurrent_downloads=positive_int("max_concurrent_downloads", 3),
            max_concurrent_uploads=positive_int("max_concurrent_uploads", 5),
            source=source,
        )

    def is_insecure(self, host: str) -> bool:
        """Whether ``host`` may be reached over plain HTTP or unverified TLS (docker's rule)."""
        hostname, _, _port = split_host_port(host)
        if self.loopback_insecure and _is_loopback(hostname):
            return True
        for entry in self.insecure_registries:
            if entry in (host, hostname):
                return True
            if "/" in entry:
                try:
                    network = ipaddress.ip_network(entry, strict=False)
                    if ipaddress.ip_address(hostname) in network:
                        return True
                except ValueError:
                    continue
        return False

    def endpoints(self, host: str, *, for_push: bool = False) -> list[Endpoint]:
        """Base URLs to try for ``host``, mirrors first; a push goes to the registry only."""
        host = canonical_host(host)
        api_host = DOCKER_HUB_API_HOST if host == DOCKER_HUB else host
        result: list[Endpoint] = []
        if not for_push:
            mirror_urls = self.registry_mirrors if host == DOCKER_HUB else self.mirrors.get(host, ())
            for url in mirror_urls:
                result.append(self._mirror_endpoint(url))
        result.append(Endpoint(host=api_host, insecure=self.is_insecure(api_host)))
        return result

    def tls_files(self, host: str) -> TLSFiles:
        """CA and client certificate files for ``host`` from every certs.d directory.

        Docker's layout: ``<dir>/<host[:port]>/*.crt`` are CAs, ``*.cert`` with a ``.key`` of the
        same stem are client certificates.
        """
        ca_files: list[Path] = []
        client_pairs: list[tuple[Path, Path]] = []
        for base in self.certs_dirs:
            directory = base / host
            if not directory.is_dir():
                continue
            for entry in sorted(directory.iterdir()):
                if entry.suffix == ".crt":
                    ca_files.append(entry)
                elif entry.suffix == ".cert":
                    key = entry.with_suffix(".key")
                    if not key.is_file():
                        raise RegistryError(f"missing key {key.name} for client certificate {entry}")
                    client_pairs.append((entry, key))
        return TLSFiles(tuple(ca_files), tuple(client_pairs))

    def ssl_context(self, host: str, *, verify: bool = True) -> ssl.SSLContext:
        """A TLS context trusting the system CAs plus the host's certs.d CAs."""
        files = self.tls_files(host)
        context = _base_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        for ca_file in files.ca_files:
            try:
                context.load_verify_locations(cafile=str(ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise RegistryError(f"cannot load CA certificate {ca_file}: {exc}") from None
        for cert, key in files.client_pairs:
            try:
                context.load_cert_chain(str(cert), str(key))
            except (OSError, ssl.SSLError) as exc:
                raise RegistryError(f"cannot load client certificate {cert}: {exc}") from None
        return context

    def ca_hint(self, host: str) -> str:
        """Where a user can put a CA for ``host``: named in TLS error messages."""
        places = [str(DOCKER_CERTS_DIR / host / "ca.crt")]
        places += [str(d / host / "ca.crt") for d in self.certs_dirs if d != DOCKER_CERTS_DIR]
        return " or ".join(dict.fromkeys(places))

    def _mirror_endpoint(self, url: str) -> Endpoint:
        scheme, sep, rest = url.partition("://")
        if not sep:
            scheme, rest = "https", url
        host, _, path = rest.partition("/")
        prefix = ("/" + path.strip("/")) if path.strip("/") else ""
        insecure = self.is_insecure(host) or scheme == "http"
        return Endpoint(host=host, scheme=scheme, path_prefix=prefix, mirror=True, insecure=insecure)


def default_config_path() -> Path:
    """``$LAMINA_CONFIG``, else ``/etc/lamina/config.toml`` for root, else the XDG user config."""
    explicit = os.environ.get("LAMINA_CONFIG")
    if explicit:
        return Path(explicit)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/etc/lamina/config.toml")
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lamina" / "config.toml"


def canonical_host(host: str) -> str:
    """Fold Docker Hub's aliases onto ``docker.io``; other hosts are kept as written, lowercased."""
    host = host.strip().rstrip("/")
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix):]
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def split_host_port(host: str) -> tuple[str, str, int | None]:
    """``"[::1]:5000"`` → ``("::1", ":", 5000)``; the port is None when absent."""
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        address, _, port = host.partition(":")
    else:
        address, port = host, ""
    return address, ":" if port else "", int(port) if port.isdigit() else None


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _base_context() -> ssl.SSLContext:
    """System CAs plus certifi's bundle (what httpx trusts by default), so both kinds of setup work."""
    context = ssl.create_default_context()
    try:
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):
        pass
    return context
