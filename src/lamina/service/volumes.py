"""``/volumes``: create, list, inspect, remove, prune (docker's local driver)."""

from __future__ import annotations

from lamina.service.server import ApiError, Request, route


@route("GET", "/volumes")
def list_volumes(request: Request) -> None:
    client = request.client
    filters = request.filters()
    documents = []
    for volume in client.volumes():
        document = volume.document()
        if not _accepts(filters, document, volume):
            continue
        documents.append(document)
    request.send_json({"Volumes": documents, "Warnings": None})


@route("POST", "/volumes/create")
def create_volume(request: Request) -> None:
    body = request.json(default={}) or {}
    if not isinstance(body, dict):
        raise ApiError(400, "volume config must be a JSON object")
    driver = body.get("Driver") or "local"
    if driver != "local":
        raise ApiError(404, f'plugin "{driver}" not found')
    client = request.client
    name = client.create_volume(body.get("Name") or None, driver=driver, labels=body.get("Labels") or None,
                                options=body.get("DriverOpts") or None)
    request.service.events.publish("volume", "create", name, {"driver": "local"})
    request.send_json(client.inspect_volume(name), status=201)


@route("POST", "/volumes/prune")
def prune_volumes(request: Request) -> None:
    filters = request.filters()
    labels = [f.split("=", 1)[1] for f in filters if f.startswith("label=")]
    # before API 1.42 docker pruned every unused volume, named ones too; since, only anonymous
    # ones unless all=true
    all_volumes = request.api_version < (1, 42) or any(f in ("all=true", "all=1") for f in filters)
    removed, reclaimed = request.client.prune_volumes(all=all_volumes, labels=labels)
    request.send_json({"VolumesDeleted": removed or None, "SpaceReclaimed": reclaimed})


@route("GET", "/volumes/{name}")
def inspect_volume(request: Request) -> None:
    request.send_json(request.client.inspect_volume(request.path["name"]))


@route("DELETE", "/volumes/{name}")
def remove_volume(request: Request) -> None:
    request.client.remove_volume(request.path["name"], force=request.flag("force"))
    request.service.events.publish("volume", "destroy", request.path["name"], {"driver": "local"})
    request.no_content()


def _accepts(filters: list[str], document: dict, volume) -> bool:
    for item in filters:
        key, _, value = item.partition("=")
        if key == "name" and value not in document["Name"]:
            return False
        if key == "dangling":
            in_use = bool(getattr(volume, "users", []))
            if (value in ("true", "1")) == in_use:
                return False
        if key == "label":
            label, _, wanted = value.partition("=")
            labels = document.get("Labels") or {}
            if label not in labels or (wanted and labels[label] != wanted):
                return False
        if key == "driver" and value != "local":
            return False
    return True
