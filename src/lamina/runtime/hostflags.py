"""The security and resource flags docker's ``run``/``create``/``build`` share beyond the basics:
``--add-host``, ``--cap-add``/``--cap-drop``, ``--privileged``, ``--ulimit``, ``--shm-size``,
``--security-opt``, ``--group-add`` and ``--dns*``.

Two halves, both keyed by docker's HostConfig names so ``inspect`` shows what docker shows:
parsing the flags into HostConfig fields (refused in docker's words), and applying those fields
to a runtime spec and to the generated ``/etc`` files. Loaded only when one of them is given,
so a plain ``lamina run`` never imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import RuntimeError_, UsageError
from lamina.runtime.flagerror import FlagError
from lamina.runtime.spec import SHM_SIZE_BYTES

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

__all__ = [
    "CAPABILITIES",
    "apply_to_spec",
    "build_host_config",
    "capabilities",
    "group_ids",
    "host_devices",
    "parse_extra_hosts",
    "parse_security_opts",
    "parse_ulimits",
    "rewrite_etc_files",
    "security_flags",
]

# Kernel order (bit N is CAPABILITIES[N]), without the CAP_ prefix.
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # fmt: skip
ULIMIT_NAMES = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
                "nproc", "rss", "rtprio", "rttime", "sigpending", "stack")


def security_flags(options: Any) -> dict[str, Any]:
    """HostConfig fields for the run/create flags this module owns (``options`` is RunOptions);
    raises FlagError/UsageError as docker does, before anything exists."""
    from lamina.runtime.units import parse_bytes

    fields: dict[str, Any] = {
        "ExtraHosts": parse_extra_hosts(options.add_host) or None,
        "CapAdd": _normal_caps(options.cap_add, "CapAdd") or None,  # normalised, as docker's current client
        "CapDrop": _normal_caps(options.cap_drop, "CapDrop") or None,
        "Privileged": options.privileged,
        "Ulimits": parse_ulimits(options.ulimits),
        "SecurityOpt": parse_security_opts(options.security_opt) or None,
        "GroupAdd": list(options.group_add) or None,
        "Dns": [_dns_address(value) for value in options.dns],
        "DnsSearch": [_dns_search(value) for value in options.dns_search],
        "DnsOptions": list(options.dns_option),
        "ShmSize": _shm_size(options.shm_size, parse_bytes),
        "ContainerIDFile": options.cidfile or "",
    }
    if options.privileged:
        # docker's inspect of a privileged container: nothing masked, SELinux labels off
        fields.update(MaskedPaths=None, ReadonlyPaths=None)
        if "label=disable" not in (fields["SecurityOpt"] or ()):
            fields["SecurityOpt"] = [*(fields["SecurityOpt"] or ()), "label=disable"]
    return fields


def build_host_config(*, add_hosts: Sequence[str] = (), ulimits: Sequence[str] = (), shm_size: str | None = None,
                      security_opt: Sequence[str] = (), memory: str | None = None, memory_swap: str | None = None,
                      cpu_shares: int | None = None, cpuset_cpus: str | None = None, cpu_period: int | None = None,
                      cpu_quota: int | None = None) -> dict[str, Any]:
    """HostConfig fields for the RUN containers of ``docker build`` (only those given); docker's
    refusals in its words, before any step runs (docker's daemon refuses limits at the first RUN)."""
    from lamina.runtime.units import parse_bytes

    fields: dict[str, Any] = {}
    if add_hosts:
        fields["ExtraHosts"] = parse_extra_hosts(add_hosts)
    if ulimits:
        fields["Ulimits"] = parse_ulimits(ulimits)
    if shm_size:
        fields["ShmSize"] = _shm_size(shm_size, parse_bytes)
    if security_opt:
        fields["SecurityOpt"] = parse_security_opts(security_opt)
    fields.update(_build_limits(memory, memory_swap, cpu_shares, cpuset_cpus, cpu_period, cpu_quota, parse_bytes))
    return fields


def _build_limits(memory: str | None, memory_swap: str | None, cpu_shares: int | None, cpuset_cpus: str | None,
                  cpu_period: int | None, cpu_quota: int | None, parse_bytes) -> dict[str, Any]:
    """Memory and CPU limits with the checks docker's daemon makes of them."""
    limits: dict[str, Any] = {}
    memory_bytes = _size_flag(memory, "-m, --memory", parse_bytes) if memory else 0
    if memory_bytes and memory_bytes < 6 << 20:
        raise _daemon_refusal("Minimum memory limit allowed is 6MB")
    if memory_swap:
        swap = -1 if memory_swap.strip() == "-1" else _size_flag(memory_swap, "--memory-swap", parse_bytes)
        if not memory_bytes:
            raise _daemon_refusal("You should always set the Memory limit when using Memoryswap limit, see usage")
        if swap != -1 and swap < memory_bytes:
            raise _daemon_refusal("Minimum memoryswap limit should be larger than memory limit, see usage")
        limits["MemorySwap"] = swap
    elif memory_bytes:
        limits["MemorySwap"] = memory_bytes * 2  # docker's default: as much swap as memory
    if memory_bytes:
        limits["Memory"] = memory_bytes
    if cpu_quota and cpu_quota < 1000:
        raise _daemon_refusal("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if cpu_period and not 1000 <= cpu_period <= 1_000_000:
        raise _daemon_refusal("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    given = {"CpuShares": cpu_shares, "CpusetCpus": cpuset_cpus, "CpuPeriod": cpu_period, "CpuQuota": cpu_quota}
    limits.update({key: value for key, value in given.items() if value})
    return limits


def _size_flag(value: str, flag: str, parse_bytes) -> int:
    try:
        return parse_bytes(value)
    except UsageError:
        raise FlagError(f"invalid argument \"{value}\" for \"{flag}\" flag: invalid size: '{value}'") from None


def _daemon_refusal(message: str) -> UsageError:
    """A refusal docker's daemon makes (``docker build`` then exits 1, not 125)."""
    error = UsageError(message)
    error.exit_code = 1
    return error


def _shm_size(value: str | None, parse_bytes) -> int:
    if not value:
        return SHM_SIZE_BYTES
    try:
        size = parse_bytes(value)
    except UsageError:
        raise FlagError(f"invalid argument \"{value}\" for \"--shm-size\" flag: invalid size: '{value}'") from None
    return size or SHM_SIZE_BYTES  # docker: 0 means the default


def parse_extra_hosts(values: Iterable[str]) -> list[str]:
    """``--add-host host:ip`` (or ``host=ip``), as given; the address must be an IP."""
    import ipaddress

    hosts = []
    for value in values:
        name, address = _split_host(value)
        if address == "host-gateway":
            raise FlagError(f"--add-host {value}: host-gateway is not supported by lamina (it has no bridge "
                            "gateway); give the host's address instead")
        try:
            ipaddress.ip_address(address.removeprefix("[").removesuffix("]"))
        except ValueError:
            raise FlagError(f"invalid argument \"{value}\" for \"--add-host\" flag: invalid IP address in "
                            f"add-host: \"{address}\"") from None
        hosts.append(value)
    return hosts


def _split_host(value: str) -> tuple[str, str]:
    separator = "=" if "=" in value else ":"
    name, found, address = value.partition(separator)
    if not found or not name or not address:
        raise FlagError(f"invalid argument \"{value}\" for \"--add-host\" flag: bad format for add-host: \"{value}\"")
    return name, address


def parse_ulimits(values: Iterable[str]) -> list[dict[str, Any]]:
    """``--ulimit name=soft[:hard]`` → docker's Ulimits records (a repeated name: the last wins)."""
    limits: dict[str, dict[str, Any]] = {}
    for value in values:
        name, found, numbers = value.partition("=")
        refuse = f"invalid argument \"{value}\" for \"--ulimit\" flag: "
        if not found:
            raise FlagError(refuse + f"invalid ulimit argument: {value}")
        if name not in ULIMIT_NAMES:
            raise FlagError(refuse + f"invalid ulimit type: {name}")
        soft_text, has_hard, hard_text = numbers.partition(":")
        soft = _go_int(soft_text, refuse)
        hard = _go_int(hard_text, refuse) if has_hard else soft
        if soft > hard:
            raise FlagError(refuse + f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
        limits.pop(name, None)
        limits[name] = {"Name": name, "Hard": hard, "Soft": soft}
    return list(limits.values())


def _go_int(text: str, refuse: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise FlagError(refuse + f"strconv.ParseInt: parsing \"{text}\": invalid syntax") from None


def parse_security_opts(values: Iterable[str]) -> list[str]:
    """``--security-opt`` values docker accepts, as given; the rest refused in docker's words
    (its client's check, then its daemon's)."""
    accepted = []
    for value in values:
        key, value_part = _security_pair(value)
        if key == "seccomp" and value_part not in ("unconfined", "builtin"):
            _refuse_seccomp_profile(value_part)
        accepted.append(value)
    return accepted


def _security_pair(value: str) -> tuple[str, str]:
    if value in ("no-new-privileges", "disable"):
        return value, "true"
    separator = "=" if "=" in value else ":" if ":" in value else ""
    if not separator:
        raise FlagError(f"Invalid --security-opt: \"{value}\"")
    key, _, setting = value.partition(separator)
    if key in ("label", "apparmor", "seccomp") or (key == "systempaths" and setting == "unconfined"):
        return key, setting
    if key == "no-new-privileges" and _go_bool(setting) is not None:
        return key, setting
    raise UsageError(f"invalid --security-opt 2: \"{value}\"")


def _go_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None


def _refuse_seccomp_profile(path: str) -> None:
    if not os.path.exists(path):
        raise FlagError(f"opening seccomp profile ({path}) failed: open {path}: no such file or directory")
    raise FlagError(f"--security-opt seccomp={path}: custom seccomp profiles are not supported by lamina "
                    "(use seccomp=unconfined, or the default)")


def _normal_caps(names: Iterable[str], field: str) -> list[str]:
    """docker's normalisation: upper case, ``CAP_`` prefixed (``ALL`` stays); unknown refused."""
    normal = []
    for name in names:
        upper = name.upper()
        if upper != "ALL":
            upper = "CAP_" + upper.removeprefix("CAP_")
            if upper[4:] not in CAPABILITIES:
                raise UsageError(f"invalid {field}: unknown capability: \"{upper}\"")
        normal.append(upper)
    return normal


def _dns_address(value: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise FlagError(f"invalid argument \"{value}\" for \"--dns\" flag: IP address is not correctly "
                        f"formatted: {value}") from None
    return value


def _dns_search(value: str) -> str:
    """docker's domain check: dot-separated labels of letters, digits and inner hyphens (a
    trailing dot allowed), or ``.`` for none."""
    domain = value.removesuffix(".") if value != "." else ""
    labels = domain.split(".") if domain else []
    valid = value == "." or (len(domain) <= 255 and labels and all(_dns_label(label) for label in labels))
    if not valid:
        raise FlagError(f"invalid argument \"{value}\" for \"--dns-search\" flag: {value} is not a valid domain")
    return value


def _dns_label(label: str) -> bool:
    return bool(label) and label.isascii() and label.replace("-", "").isalnum() and not (
        label.startswith("-") or label.endswith("-"))


def capabilities(defaults: Sequence[str], host_config: Mapping[str, Any]) -> list[str]:
    """The container's capability set by docker's rules: privileged or ``--cap-add ALL`` → every
    capability this process may grant (minus drops for ALL); ``--cap-drop ALL`` → only the adds;
    else the defaults minus drops plus adds."""
    adds = list(host_config.get("CapAdd") or ())
    drops = list(host_config.get("CapDrop") or ())
    if host_config.get("Privileged"):
        return _grantable()
    if "ALL" in adds:
        return [cap for cap in _grantable() if cap not in drops]
    if "ALL" in drops:
        return list(dict.fromkeys(adds))
    return list(dict.fromkeys([cap for cap in defaults if cap not in drops] + adds))


def _grantable() -> list[str]:
    """The capabilities in our bounding set (what runc can give a container from here)."""
    mask = (1 << len(CAPABILITIES)) - 1
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapBnd:"):
                    mask = int(line.split()[1], 16)
    except OSError:
        pass
    return [f"CAP_{name}" for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1]


def apply_to_spec(spec: dict[str, Any], host_config: Mapping[str, Any], rootfs: Path | None = None) -> None:
    """Change a docker-shaped runtime spec (``runtime.spec``) for the HostConfig's security and
    resource fields; ``rootfs`` is where ``--group-add`` names are looked up."""
    process = spec["process"]
    caps = capabilities(process["capabilities"]["bounding"], host_config)
    process["capabilities"] = {kind: list(caps) for kind in ("bounding", "effective", "permitted")}
    if host_config.get("Privileged"):
        _privileged(spec)
    _apply_security_opts(spec, host_config.get("SecurityOpt") or ())
    _apply_ulimits(process, host_config.get("Ulimits") or ())
    shm = host_config.get("ShmSize")
    if shm and shm != SHM_SIZE_BYTES:
        for mount in spec["mounts"]:
            if mount["destination"] == "/dev/shm":
                mount["options"] = [o for o in mount["options"] if not o.startswith("size=")] + [f"size={shm}"]
    groups = host_config.get("GroupAdd")
    if groups:
        gids = process["user"].setdefault("additionalGids", [])
        gids.extend(gid for gid in group_ids(groups, rootfs) if gid not in gids)


def _privileged(spec: dict[str, Any]) -> None:
    """docker's --privileged: no seccomp, nothing masked or read-only, /sys and cgroups writable,
    every device allowed and the host's device nodes made in the container's /dev."""
    linux = spec["linux"]
    linux.pop("seccomp", None)
    linux["maskedPaths"], linux["readonlyPaths"] = [], []
    linux.setdefault("resources", {})["devices"] = [{"allow": True, "access": "rwm"}]
    linux["devices"] = host_devices()
    for mount in spec["mounts"]:
        if mount["destination"] in ("/sys", "/sys/fs/cgroup"):
            mount["options"] = [o for o in mount["options"] if o != "ro"] + ["rw"]


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """The host's device nodes as runtime-spec devices (what docker gives a privileged
    container); the pty, shm and mqueue trees and the console are the container's own."""
    import stat

    devices = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if not (directory == root and d in ("pts", "shm", "mqueue"))]
        for name in sorted(names):
            path = os.path.join(directory, name)
            if path in ("/dev/console", "/dev/ptmx"):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else None
            if kind is not None:
                devices.append({"path": path, "type": kind, "major": os.major(st.st_rdev),
                                "minor": os.minor(st.st_rdev), "fileMode": stat.S_IMODE(st.st_mode),
                                "uid": st.st_uid, "gid": st.st_gid})
    return devices


def _apply_security_opts(spec: dict[str, Any], opts: Iterable[str]) -> None:
    for opt in opts:
        key, setting = _security_pair(opt)
        if key == "seccomp" and setting == "unconfined":
            spec["linux"].pop("seccomp", None)
        elif key == "no-new-privileges":
            spec["process"]["noNewPrivileges"] = bool(_go_bool(setting))
        elif key == "systempaths":
            spec["linux"]["maskedPaths"], spec["linux"]["readonlyPaths"] = [], []
        # label= and apparmor= are recorded only: lamina applies neither SELinux nor AppArmor


def _apply_ulimits(process: dict[str, Any], ulimits: Iterable[Mapping[str, Any]]) -> None:
    rlimits = {limit["type"]: limit for limit in process.get("rlimits") or []}
    for ulimit in ulimits:
        kind = "RLIMIT_" + ulimit["Name"].upper()
        rlimits[kind] = {"type": kind, "hard": ulimit["Hard"], "soft": ulimit["Soft"]}
    process["rlimits"] = list(rlimits.values())


def group_ids(groups: Iterable[str], rootfs: Path | None) -> list[int]:
    """``--group-add`` values as gids: numbers as they are, names from the image's /etc/group."""
    from lamina.runtime.users import parse_group, read_in_root

    entries = parse_group(read_in_root(rootfs, "etc/group") or "") if rootfs is not None else []
    gids = []
    for group in groups:
        if group.isdigit():
            gids.append(int(group))
            continue
        found = [entry.gid for entry in entries if entry.name == group]
        if not found:
            raise RuntimeError_(f"Unable to find group {group}: no matching entries in group file")
        gids.append(found[0])
    return gids


def rewrite_etc_files(directory: Path, host_config: Mapping[str, Any]) -> None:
    """Append ``--add-host`` lines to ``hosts`` (``ip\\thost``, as docker) and apply ``--dns*``
    to ``resolv.conf``, after the network mode wrote both."""
    extra = host_config.get("ExtraHosts") or ()
    if extra:
        with open(directory / "hosts", "a") as hosts:
            for entry in extra:
                name, address = _split_host(entry)
                hosts.write(f"{address.removeprefix('[').removesuffix(']')}\t{name}\n")
    dns, search, options = (list(host_config.get(key) or ()) for key in ("Dns", "DnsSearch", "DnsOptions"))
    if dns or search or options:
        path = directory / "resolv.conf"
        path.write_text(_resolv_conf(path.read_text(), dns, search, options))


def _resolv_conf(current: str, dns: list[str], search: list[str], options: list[str]) -> str:
    """docker's rebuilt resolv.conf: each of nameservers, search domains and options comes from
    its flag, or from the file the network mode wrote when the flag is not given."""
    lines = [line.split() for line in current.splitlines()]
    dns = dns or [words[1] for words in lines if len(words) > 1 and words[0] == "nameserver"]
    search = search or [word for words in lines if words[:1] == ["search"] for word in words[1:]]
    options = options or [word for words in lines if words[:1] == ["options"] for word in words[1:]]
    search = [domain for domain in search if domain != "."]
    text = f"search {' '.join(search)}\n" if search else ""
    text += "".join(f"nameserver {server}\n" for server in dns)
    return text + (f"options {' '.join(options)}\n" if options else "")
