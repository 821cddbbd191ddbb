"""``/images/…``: list, inspect, history, tag, remove, pull and import (``/images/create``), push,
save (``get``), load, prune, and ``/commit``, in docker's JSON shapes."""

from __future__ import annotations

import threading
from typing import Any

from lamina.service.server import MAX_DRAIN, ApiError, ChunkedWriter, Request, route

_ZERO_TIME = "0001-01-01T00:00:00Z"


def image_summaries(client, *, all: bool = False, filters: list[str] | None = None) -> list[dict[str, Any]]:
    """``GET /images/json``'s rows: one per image ID, its tags and repo digests gathered."""
    by_id: dict[str, dict[str, Any]] = {}
    for row in client.images(all=all, filters=filters or ()):
        summary = by_id.get(row.id)
        if summary is None:
            summary = by_id[row.id] = {
                "Id": row.id, "ParentId": "", "RepoTags": [], "RepoDigests": [], "Created": int(row.created_ts),
                "Size": row.size, "VirtualSize": row.size, "SharedSize": -1, "Labels": row.labels or {},
                "Containers": -1,
            }
        if row.repository != "<none>" and row.tag != "<none>":
            tag = f"{row.repository}:{row.tag}"
            if tag not in summary["RepoTags"]:
                summary["RepoTags"].append(tag)
        if row.repository != "<none>" and row.digest and row.digest != "<none>":
            digest = f"{row.repository}@{row.digest}"
            if digest not in summary["RepoDigests"]:
                summary["RepoDigests"].append(digest)
    for summary in by_id.values():  # docker: null... only for images that have neither
        if not summary["RepoTags"]:
            summary["RepoTags"] = ["<none>:<none>"] if not summary["RepoDigests"] else []
        if not summary["RepoDigests"] and summary["RepoTags"] == ["<none>:<none>"]:
            summary["RepoDigests"] = ["<none>@<none>"]
    return sorted(by_id.values(), key=lambda s: s["Created"], reverse=True)


@route("GET", "/images/json")
def list_images(request: Request) -> None:
    filters = request.filters()
    name = request.arg("filter")  # API < 1.25: a reference pattern
    if name:
        filters.append(f"reference={name}")
    request.send_json(image_summaries(request.client, all=request.flag("all"), filters=filters))


@route("GET", "/images/get")
def save_images(request: Request) -> None:
    _save(request, request.query.get("names") or [])


@route("POST", "/images/load")
def load_images(request: Request) -> None:
    from lamina.errors import LaminaError

    try:
        loaded = request.client.load(request.body_stream())
    except LaminaError as exc:  # dockerd reports a bad archive inside a 200 stream
        if request.body is not None:
            request.body.drain(MAX_DRAIN)
        writer = request.stream()
        writer.json_line({"errorDetail": {"message": str(exc)}, "error": str(exc)})
        writer.close()
        return
    writer = request.stream()
    for image in loaded:  # ``quiet`` hides progress only (docker's CLI sets it when piped)
        lines = [f"Loaded image: {tag}\n" for tag in image.tags] or [f"Loaded image ID: {image.image_id}\n"]
        for line in lines:
            writer.json_line({"stream": line})
    writer.close()


@route("POST", "/images/create")
def create_image(request: Request) -> None:
    """Pull (``fromImage``) or import a rootfs tar (``fromSrc=-``: the body; or a URL)."""
    source = request.arg("fromSrc")
    if source:
        _import(request, source)
        return
    image = request.arg("fromImage")
    if not image:
        raise ApiError(400, "fromImage or fromSrc is required")
    tag = request.arg("tag") or ""
    if tag.startswith("sha256:"):
        name = f"{image}@{tag}"
    elif tag and "@" not in image:
        name = f"{image}:{tag}"
    else:
        name = image
    _pull(request, name, platform=request.arg("platform") or None)


@route("POST", "/images/prune")
def prune_images(request: Request) -> None:
    filters = request.filters()
    all_images = "dangling=false" in filters or "dangling=0" in filters
    filters = [f for f in filters if not f.startswith("dangling=")]
    report = request.client.prune_images(all=all_images, filters=filters)
    deleted = [{"Untagged": name} for name in report.untagged] + [{"Deleted": name} for name in report.deleted]
    request.send_json({"ImagesDeleted": deleted or None, "SpaceReclaimed": report.space_reclaimed})


@route("GET", "/images/search")
def search_images(request: Request) -> None:
    term = request.arg("term") or ""
    results = request.client.search(term, limit=request.int_arg("limit", 25) or 25, filters=request.filters())
    request.send_json([{"name": r.name, "description": r.description, "star_count": r.stars,
                        "is_official": r.official, "is_automated": getattr(r, "automated", False)}
                       for r in results])


@route("POST", "/commit")
def commit(request: Request) -> None:
    container = request.arg("container")
    if not container:
        raise ApiError(400, "container is required")
    body = request.json(default={}) or {}
    repo, tag = request.arg("repo") or "", request.arg("tag") or ""
    reference = f"{repo}:{tag}" if repo and tag else repo or None
    changes = request.query.get("changes") or []
    changes = [line for change in changes for line in change.splitlines() if line.strip()]
    for key in ("Cmd", "Entrypoint", "Env", "WorkingDir", "User", "Labels", "ExposedPorts"):
        if body.get(key):
            changes.append(_change_line(key, body[key]))
    image_id = request.client.commit_container(container, reference, changes=changes,
                                               message=request.arg("comment") or "",
                                               author=request.arg("author") or "",
                                               pause=request.flag("pause", True))
    request.send_json({"Id": image_id}, status=201)


def _change_line(key: str, value: Any) -> str:
    import json

    if key == "Env":
        return "ENV " + " ".join(value)
    if key == "Labels":
        return "LABEL " + " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in value.items())
    if key == "ExposedPorts":
        return "EXPOSE " + " ".join(value)
    if key in ("WorkingDir", "User"):
        return f"{'WORKDIR' if key == 'WorkingDir' else 'USER'} {value}"
    return f"{key.upper()} {json.dumps(value)}"


@route("GET", "/images/{name:path}/json")
def inspect_image(request: Request) -> None:
    document = request.client.inspect_image(request.path["name"])
    metadata = document.get("Metadata") or {}
    if not metadata.get("LastTagTime"):  # Go's clients parse it: the zero time, as dockerd sends
        document["Metadata"] = {**metadata, "LastTagTime": _ZERO_TIME}
    if not document.get("Created"):
        document["Created"] = _ZERO_TIME
    request.send_json(document)


@route("GET", "/images/{name:path}/history")
def image_history(request: Request) -> None:
    client = request.client
    document = client.inspect_image(request.path["name"])
    entries = client.history(request.path["name"])
    request.send_json([{"Id": e.id, "Created": int(e.created_ts), "CreatedBy": e.created_by,
                        "Tags": document["RepoTags"] if e.id == document["Id"] else None,
                        "Size": e.size, "Comment": e.comment} for e in entries])


@route("POST", "/images/{name:path}/tag")
def tag_image(request: Request) -> None:
    repo = request.arg("repo")
    if not repo:
        raise ApiError(400, "repository name (repo) is required")
    tag = request.arg("tag") or "latest"
    target = f"{repo}:{tag}" if "@" not in repo else repo
    image_id = request.client.tag(request.path["name"], target)
    request.service.events.publish("image", "tag", image_id, {"name": target})
    request.no_content(201)


@route("GET", "/images/{name:path}/get")
def save_image(request: Request) -> None:
    _save(request, [request.path["name"]])


@route("POST", "/images/{name:path}/push")
def push_image(request: Request) -> None:
    name = request.path["name"]
    tag = request.arg("tag")
    if tag:
        name = f"{name}:{tag}"
    client = request.client
    client.inspect_image(name)  # 404 before the stream starts
    progress = _Progress(request)
    client.registry_credentials = registry_auth(request)
    try:
        progress.status(f"The push refers to repository [{name.rsplit(':', 1)[0] if tag else name}]")
        for result in client.iter_push(name, events=progress.event):
            progress.status(f"{result.reference.tag or 'latest'}: digest: {result.digest} "
                            f"size: {getattr(result, 'size', 0)}")
    except Exception as exc:  # noqa: BLE001 - docker reports a failed push inside the stream
        progress.error(str(exc))
    finally:
        client.registry_credentials = None
    progress.close()


@route("DELETE", "/images/{name:path}")
def remove_image(request: Request) -> None:
    results = request.client.remove_images([request.path["name"]], force=request.flag("force"),
                                           prune=not request.flag("noprune"))
    answer = []
    for result in results:
        if isinstance(result, Exception):
            raise result
        answer += [{"Untagged": name} for name in result.untagged]
        answer += [{"Deleted": name} for name in result.deleted if name.startswith("sha256:")]
    for entry in answer:
        action, subject = next(iter(entry.items()))
        request.service.events.publish("image", action.lower().replace("deleted", "delete"), subject,
                                       {"name": subject})
    request.send_json(answer)


# ----- helpers ------------------------------------------------------------------------
def _save(request: Request, names: list[str]) -> None:
    if not names:
        raise ApiError(400, "no image names given")
    client = request.client
    for name in names:
        client.inspect_image(name)  # 404 before the tar stream starts
    writer = request.stream("application/x-tar")
    client.save(names, writer)  # type: ignore[arg-type]
    writer.close()


def _import(request: Request, source: str) -> None:
    repo, tag = request.arg("repo") or "", request.arg("tag") or ""
    reference = (f"{repo}:{tag}" if tag else repo) or None
    changes = [line for change in request.query.get("changes") or [] for line in change.splitlines() if line]
    stream = request.body_stream() if source == "-" else source
    image_id = request.client.import_image(stream, reference, changes=changes,
                                           message=request.arg("message") or "",
                                           platform=request.arg("platform") or None)
    writer = request.stream()
    writer.json_line({"status": image_id})
    writer.close()


def _pull(request: Request, name: str, *, platform: str | None) -> None:
    from lamina.oci.reference import parse_reference

    reference = parse_reference(name)
    progress = _Progress(request)
    request.client.registry_credentials = registry_auth(request)
    try:
        progress.status(f"Pulling from {reference.familiar_repository}", reference.tag or reference.digest or "")
        for result, newer in request.client.iter_pull(name, platform=platform, events=progress.event):
            progress.status(f"Digest: {result.digest}")
            state = "Downloaded newer image for" if newer else "Image is up to date for"
            progress.status(f"Status: {state} {result.reference.familiar}")
            request.service.events.publish("image", "pull", result.reference.familiar,
                                           {"name": result.reference.familiar})
    except Exception as exc:
        if not progress.started:
            message = str(exc)
            if "not found" in message or "manifest unknown" in message or "NAME_UNKNOWN" in message:
                raise ApiError(404, message) from None  # docker-py's ImageNotFound
            raise
        progress.error(str(exc))
    finally:
        request.client.registry_credentials = None
    progress.close()


def registry_auth(request: Request):
    """docker's ``X-Registry-Auth`` header (base64url JSON: username/password or identitytoken,
    serveraddress) as the credential source of this request (as dockerd, only the header's
    credential is used then); None without a header: the stored credentials, as lamina's own."""
    import base64
    import json

    header = request.headers.get("X-Registry-Auth") or ""
    if not header.strip():
        return None
    try:
        padded = header.strip() + "=" * (-len(header.strip()) % 4)
        auth = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        raise ApiError(400, "invalid X-Registry-Auth header: not base64url-encoded JSON") from None
    if not isinstance(auth, dict):
        raise ApiError(400, "invalid X-Registry-Auth header: not a JSON object")
    return _HeaderCredentials(auth)


class _HeaderCredentials:
    """One credential from the request's header, for the registry it names (or any, unnamed)."""

    def __init__(self, auth: dict):
        from lamina.registry.credentials import Credential, server_key

        self._server = server_key(str(auth["serveraddress"])) if auth.get("serveraddress") else ""
        self._credential = Credential(str(auth.get("username") or ""), str(auth.get("password") or ""),
                                      str(auth.get("identitytoken") or ""))
        self._server_key = server_key

    def get(self, server: str):
        if self._credential and (not self._server or self._server_key(server) == self._server):
            return self._credential
        return None


class _Progress:
    """docker's progress JSON lines for pull and push. The response starts with the first
    line, so a failure before any progress is an HTTP error (404, 500) as with dockerd."""

    def __init__(self, request: Request):
        self._request = request
        self._writer: ChunkedWriter | None = None
        self._lock = threading.Lock()
        self._buffer: list[dict[str, Any]] = []

    @property
    def started(self) -> bool:
        return self._writer is not None

    def _emit(self, document: dict[str, Any], *, start: bool = True) -> None:
        with self._lock:
            if self._writer is None:
                if not start:
                    self._buffer.append(document)
                    return
                self._writer = self._request.stream()
                for held in self._buffer:
                    self._writer.json_line(held)
                self._buffer.clear()
            self._writer.json_line(document)

    def status(self, text: str, id: str = "") -> None:
        document: dict[str, Any] = {"status": text}
        if id:
            document["id"] = id
        self._emit(document, start=not text.startswith(("Pulling from", "The push refers")))

    def event(self, event) -> None:
        document: dict[str, Any] = {"status": event.status, "progressDetail": {}, "id": event.id}
        if event.total:
            document["progressDetail"] = {"current": event.current, "total": event.total}
            width = 50
            done = min(width, int(width * event.current / event.total)) if event.total else 0
            document["progress"] = "[" + "=" * max(0, done - 1) + (">" if done else "") + " " * (width - done) + "]"
        self._emit(document)

    def error(self, message: str) -> None:
        self._emit({"errorDetail": {"message": message}, "error": message})

    def close(self) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = self._request.stream()
                for held in self._buffer:
                    self._writer.json_line(held)
            self._writer.close()
