"""docker's create JSON (``Config`` with ``HostConfig`` and ``NetworkingConfig``) → the fields of
:class:`lamina.runtime.runconfig.RunOptions`, the ones ``lamina run``'s flags fill. One
translation for every route that creates a container, so the socket, the CLI and the Python API
make the same container from the same request. Fields lamina does not act on are ignored, as
docker ignores unknown ones."""

from __future__ import annotations

import shlex
from typing import Any

from lamina.service.server import ApiError

__all__ = ["run_fields"]

_DOCKER_NETWORKS = {"default": None, "bridge": None, "": None, "host": "host", "none": "none",
                    "private": "private"}


def run_fields(body: dict[str, Any], *, name: str | None = None, platform: str | None = None) -> dict[str, Any]:
    """The RunOptions keywords for a ``POST /containers/create`` body (400 on wrong types)."""
    if not isinstance(body, dict):
        raise ApiError(400, "container config must be a JSON object")
    host = _object(body, "HostConfig")
    fields: dict[str, Any] = {"detach": True, "pull": "never"}
    if name:
        fields["name"] = name
    if platform:
        fields["platform"] = platform
    fields.update(_config_fields(body))
    anonymous = fields.pop("volumes", [])
    fields.update(_host_fields(host))
    # Config.Volumes (anonymous volumes) and HostConfig.Binds are both ``-v``; a path both name
    # is the bind's (docker-py lists every bind's target in Config.Volumes too)
    targets = {_bind_target(bind) for bind in fields.get("volumes", [])}
    targets |= {m.get("Target") for m in _list(host, "Mounts") if isinstance(m, dict)}
    anonymous = [path for path in anonymous if path.rstrip("/") not in targets and path not in targets]
    if anonymous:
        fields["volumes"] = anonymous + fields.get("volumes", [])
    network = _network(host, _object(body, "NetworkingConfig"))
    if network is not None:
        fields["network"] = network
    return fields


def _bind_target(bind: str) -> str:
    parts = bind.split(":")
    return (parts[1] if len(parts) > 1 else parts[0]).rstrip("/") or "/"


def image_of(body: dict[str, Any]) -> str:
    image = body.get("Image") if isinstance(body, dict) else None
    if not image or not isinstance(image, str):
        raise ApiError(400, "Config.Image is required")
    return image


# ----- Config -----------------------------------------------------------------------------
def _config_fields(config: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    cmd = _argv(config, "Cmd")
    entrypoint = _argv(config, "Entrypoint")
    if entrypoint is not None:
        if entrypoint:  # docker: a given ENTRYPOINT drops the image's CMD
            fields["entrypoint"] = entrypoint[0]
            fields["command"] = entrypoint[1:] + (cmd or [])
        else:
            fields["entrypoint"] = ""
            fields["command"] = cmd or []
    elif cmd:
        fields["command"] = cmd
    _copy_list(config, "Env", fields, "env")
    _copy_str(config, "WorkingDir", fields, "workdir")
    _copy_str(config, "User", fields, "user")
    _copy_str(config, "Hostname", fields, "hostname")
    _copy_str(config, "StopSignal", fields, "stop_signal")
    if config.get("StopTimeout") is not None:
        fields["stop_timeout"] = _int(config, "StopTimeout")
    if config.get("Tty"):
        fields["tty"] = True
    if config.get("OpenStdin"):
        fields["interactive"] = True
    labels = _object(config, "Labels")
    if labels:
        fields["labels"] = [f"{key}={value}" for key, value in labels.items()]
    exposed = _object(config, "ExposedPorts")
    if exposed:
        fields["expose"] = list(exposed)
    volumes = _object(config, "Volumes")
    if volumes:
        fields["volumes"] = list(volumes)
    fields.update(_healthcheck(_object(config, "Healthcheck")))
    return fields


def _healthcheck(health: dict[str, Any]) -> dict[str, Any]:
    if not health:
        return {}
    fields: dict[str, Any] = {}
    test = health.get("Test") or []
    if test and test[0] == "NONE":
        return {"no_healthcheck": True}
    if test and test[0] == "CMD-SHELL":
        fields["health_cmd"] = " ".join(test[1:])
    elif test and test[0] == "CMD":
        fields["health_cmd"] = shlex.join(test[1:])
    for key, dest in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                      ("StartPeriod", "health_start_period")):
        if health.get(key):
            fields[dest] = f"{int(health[key]) / 1e9:g}s"
    if health.get("Retries"):
        fields["health_retries"] = int(health["Retries"])
    return fields


# ----- HostConfig -------------------------------------------------------------------------
def _host_fields(host: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    volumes = list(_list(host, "Binds"))
    if volumes:
        fields["volumes"] = volumes
    mounts = [_mount_flag(m) for m in _list(host, "Mounts")]
    if mounts:
        fields["mounts"] = mounts
    tmpfs = _object(host, "Tmpfs")
    if tmpfs:
        fields["tmpfs"] = [f"{path}:{options}" if options else path for path, options in tmpfs.items()]
    publish = []
    for port, bindings in _object(host, "PortBindings").items():
        for binding in bindings or [{}]:
            host_ip = (binding or {}).get("HostIp") or ""
            host_port = (binding or {}).get("HostPort") or ""
            publish.append(f"{host_ip}:{host_port}:{port}" if host_ip else f"{host_port}:{port}" if host_port
                           else port)
    if publish:
        fields["publish"] = publish
    if host.get("PublishAllPorts"):
        fields["publish_all"] = True
    if host.get("ReadonlyRootfs"):
        fields["read_only"] = True
    if host.get("Memory"):
        fields["memory"] = str(_int(host, "Memory"))
    if host.get("MemorySwap"):
        fields["memory_swap"] = str(_int(host, "MemorySwap"))
    if host.get("NanoCpus"):
        fields["cpus"] = f"{_int(host, 'NanoCpus') / 1e9:g}"
    elif host.get("CpuQuota") and host.get("CpuPeriod"):
        fields["cpus"] = f"{_int(host, 'CpuQuota') / _int(host, 'CpuPeriod'):g}"
    if host.get("PidsLimit"):
        fields["pids_limit"] = _int(host, "PidsLimit")
    if host.get("Init"):
        fields["init"] = True
    if host.get("AutoRemove"):
        fields["auto_remove"] = True
    restart = _object(host, "RestartPolicy")
    if restart.get("Name"):
        policy = str(restart["Name"])
        if policy == "on-failure" and restart.get("MaximumRetryCount"):
            policy += f":{int(restart['MaximumRetryCount'])}"
        fields["restart"] = policy
    for key, dest in (("ExtraHosts", "add_host"), ("CapAdd", "cap_add"), ("CapDrop", "cap_drop"),
                      ("SecurityOpt", "security_opt"), ("GroupAdd", "group_add"), ("Dns", "dns"),
                      ("DnsSearch", "dns_search"), ("DnsOptions", "dns_option")):
        _copy_list(host, key, fields, dest)
    if host.get("Privileged"):
        fields["privileged"] = True
    ulimits = [f"{u['Name']}={u.get('Soft', 0)}:{u.get('Hard', u.get('Soft', 0))}" for u in _list(host, "Ulimits")
               if isinstance(u, dict) and u.get("Name")]
    if ulimits:
        fields["ulimits"] = ulimits
    if host.get("ShmSize"):
        fields["shm_size"] = str(_int(host, "ShmSize"))
    devices = [":".join(p for p in (d.get("PathOnHost", ""), d.get("PathInContainer", ""),
                                    d.get("CgroupPermissions", "")) if p)
               for d in _list(host, "Devices") if isinstance(d, dict)]
    if devices:
        fields["devices"] = devices
    sysctls = _object(host, "Sysctls")
    if sysctls:
        fields["sysctls"] = [f"{key}={value}" for key, value in sysctls.items()]
    if host.get("PidMode"):
        fields["pid"] = str(host["PidMode"])
    if host.get("IpcMode") and host["IpcMode"] not in ("private", "shareable"):
        fields["ipc"] = str(host["IpcMode"])
    log = _object(host, "LogConfig")
    if log.get("Type"):
        fields["log_driver"] = str(log["Type"])
        fields["log_opts"] = [f"{key}={value}" for key, value in (log.get("Config") or {}).items()]
    return fields


def _mount_flag(mount: Any) -> str:
    """A docker ``Mounts`` entry as the ``--mount`` flag's CSV."""
    if not isinstance(mount, dict) or not mount.get("Target"):
        raise ApiError(400, "invalid mount config: Target is required")
    parts = [f"type={mount.get('Type') or 'volume'}"]
    if mount.get("Source"):
        parts.append(f"source={mount['Source']}")
    parts.append(f"target={mount['Target']}")
    if mount.get("ReadOnly"):
        parts.append("readonly")
    bind = mount.get("BindOptions") or {}
    if bind.get("Propagation"):
        parts.append(f"bind-propagation={bind['Propagation']}")
    tmpfs = mount.get("TmpfsOptions") or {}
    if tmpfs.get("SizeBytes"):
        parts.append(f"tmpfs-size={int(tmpfs['SizeBytes'])}")
    if tmpfs.get("Mode"):
        parts.append(f"tmpfs-mode={int(tmpfs['Mode']):o}")
    return ",".join(parts)


def _network(host: dict[str, Any], networking: dict[str, Any]) -> str | None:
    mode = host.get("NetworkMode")
    if not mode:
        endpoints = list(_object(networking, "EndpointsConfig"))
        mode = endpoints[0] if endpoints else None
    if mode is None:
        return None
    mode = str(mode)
    if mode in _DOCKER_NETWORKS:
        return _DOCKER_NETWORKS[mode]
    if mode.startswith("container:"):
        return mode
    raise ApiError(404, f"network {mode} not found")


# ----- typed access -----------------------------------------------------------------------
def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, f"invalid {key}: want a JSON object")
    return value


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, f"invalid {key}: want a JSON array")
    return value


def _argv(document: dict[str, Any], key: str) -> list[str] | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value) if value else []
    if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
        raise ApiError(400, f"invalid {key}: want a string or an array of strings")
    return list(value)


def _copy_list(document: dict[str, Any], key: str, fields: dict[str, Any], dest: str) -> None:
    values = _list(document, key)
    if values:
        if not all(isinstance(v, str) for v in values):
            raise ApiError(400, f"invalid {key}: want an array of strings")
        fields[dest] = list(values)


def _copy_str(document: dict[str, Any], key: str, fields: dict[str, Any], dest: str) -> None:
    value = document.get(key)
    if value:
        if not isinstance(value, str):
            raise ApiError(400, f"invalid {key}: want a string")
        fields[dest] = value


def _int(document: dict[str, Any], key: str) -> int:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApiError(400, f"invalid {key}: want a number")
    return int(value)
