"""``/networks``: the three networks lamina's containers use, in docker's shape. lamina has no
user-defined networks yet: creating one is refused with docker's error for a missing driver
(docs/compat.md)."""

from __future__ import annotations

import hashlib

from lamina.service.server import ApiError, Request, route

_NETWORKS = {name: {"Driver": driver, "Id": hashlib.sha256(f"lamina network {name}".encode()).hexdigest()}
             for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null"))}


def _document(name: str) -> dict:
    network = _NETWORKS[name]
    return {"Name": name, "Id": network["Id"], "Created": "0001-01-01T00:00:00Z", "Scope": "local",
            "Driver": network["Driver"], "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None,
                                                                       "Config": []},
            "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Containers": {}, "Options": {}, "Labels": {}}


def _find(name: str) -> str:
    for known, network in _NETWORKS.items():
        if name == known or (len(name) >= 3 and network["Id"].startswith(name)):
            return known
    raise ApiError(404, f"network {name} not found")


@route("GET", "/networks")
def list_networks(request: Request) -> None:
    filters = request.filters()
    names = list(_NETWORKS)
    for item in filters:
        key, _, value = item.partition("=")
        if key == "name":
            names = [n for n in names if value in n]
        elif key == "id":
            names = [n for n in names if _NETWORKS[n]["Id"].startswith(value)]
        elif key == "type":
            names = [] if value == "custom" else names
        elif key == "driver":
            names = [n for n in names if _NETWORKS[n]["Driver"] == value]
        elif key == "label":
            names = []
    request.send_json([_document(n) for n in names])


@route("GET", "/networks/{name}")
def inspect_network(request: Request) -> None:
    request.send_json(_document(_find(request.path["name"])))


@route("POST", "/networks/create")
def create_network(request: Request) -> None:
    body = request.json(default={}) or {}
    driver = body.get("Driver") or "bridge"
    raise ApiError(500, f"lamina cannot create networks yet (driver {driver!r}): containers use bridge "
                        "(a private slirp4netns network each), host or none")


@route("POST", "/networks/prune")
def prune_networks(request: Request) -> None:
    request.send_json({"NetworksDeleted": None})


@route("DELETE", "/networks/{name}")
def remove_network(request: Request) -> None:
    name = _find(request.path["name"])
    raise ApiError(403, f"{name} is a pre-defined network and cannot be removed")
