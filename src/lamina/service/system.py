"""``/_ping``, ``/version``, ``/info``, ``/system/df``, ``/events``: what every client asks first."""

from __future__ import annotations

import platform
import time

from lamina.service.server import API_VERSION, MIN_API_VERSION, Request, client_gone, route

_PING_HEADERS = {"Api-Version": API_VERSION, "Builder-Version": "1", "OSType": "linux",
                 "Docker-Experimental": "false", "Cache-Control": "no-cache, no-store, must-revalidate",
                 "Pragma": "no-cache"}


@route("GET", "/_ping")
def ping(request: Request) -> None:
    """docker's clients negotiate the API version from these headers (HEAD or GET)."""
    request.send_bytes(b"OK", headers=_PING_HEADERS)


@route("GET", "/version")
def version(request: Request) -> None:
    from lamina.sysinfo import lamina_version

    document = request.client.version()
    runtime = document.get("Runtime") or {}
    kernel = platform.release()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    request.send_json({
        "Platform": {"Name": "lamina"},
        "Components": [{"Name": "Engine", "Version": lamina_version(),
                        "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                                    "Os": "linux", "Arch": arch, "KernelVersion": kernel}},
                       {"Name": "runc", "Version": runtime.get("Version", ""), "Details": {}}],
        "Version": lamina_version(), "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": "python" + platform.python_version(), "Os": "linux", "Arch": arch,
        "KernelVersion": kernel, "BuildTime": "",
    })


@route("GET", "/info")
def info(request: Request) -> None:
    document = dict(request.client.info())
    document.setdefault("ServerVersion", _lamina_version())
    document.setdefault("OSType", "linux")
    document.setdefault("Name", platform.node())
    document.setdefault("Plugins", {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file"]})
    document.setdefault("Swarm", {"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "",
                                  "ControlAvailable": False, "Error": "", "RemoteManagers": None})
    document.setdefault("SecurityOptions", [])
    document.setdefault("Runtimes", {"runc": {"path": "runc"}})
    document.setdefault("DefaultRuntime", "runc")
    document.setdefault("ExperimentalBuild", False)
    request.send_json(document)


def _lamina_version() -> str:
    from lamina.sysinfo import lamina_version

    return lamina_version()


@route("GET", "/system/df")
def system_df(request: Request) -> None:
    from lamina.service.containers import container_summary
    from lamina.service.images import image_summaries

    client = request.client
    usage = client.system_df()
    containers = [container_summary(client, c) for c in usage.containers]
    for row in containers:
        row["SizeRw"] = usage.container_sizes.get(row["Id"], 0)
    request.send_json({
        "LayersSize": usage.layers_size,
        "Images": image_summaries(client),
        "Containers": containers,
        "Volumes": [{"Name": v.name, "Driver": "local", "Mountpoint": str(getattr(v, "mountpoint", "")),
                     "Labels": getattr(v, "labels", {}) or {}, "Scope": "local", "Options": {},
                     "UsageData": {"Size": v.size, "RefCount": v.links}} for v in usage.volumes],
        "BuildCache": [],
    })


@route("GET", "/events")
def events(request: Request) -> None:
    """docker's event stream (lamina.service.events): past events from ``since``, then new ones
    until ``until`` or the client leaves; filtered by ``filters``."""
    from lamina.service.events import matches, parse_time_ns

    bus = request.service.events
    filters = request.filters()
    since = parse_time_ns(request.arg("since"))
    until = parse_time_ns(request.arg("until"))
    position = since if since is not None else time.time_ns()
    writer = request.stream()
    connection = request.http.connection
    replay = since is not None  # first the kept events after ``since``, without waiting
    while True:
        fresh = bus.since(position) if replay else bus.wait(position, 0.2)
        replay = False
        for event in fresh:
            if until is not None and event["timeNano"] > until:
                break
            position = event["timeNano"]
            if matches(event, filters):
                writer.json_line(event)
        if until is not None and time.time_ns() >= until:
            break
        if client_gone(connection):
            request.http.close_connection = True
            return
    writer.close()
