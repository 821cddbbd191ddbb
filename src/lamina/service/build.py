"""``POST /build``: a tar context in the body, the classic builder's output as JSON lines
(``{"stream": …}``, ``{"aux": {"ID": …}}``, and ``{"error": …, "errorDetail": …}`` on failure)."""

from __future__ import annotations

import json
from typing import Any

from lamina.service.server import ApiError, ChunkedWriter, Request, route


@route("POST", "/build")
def build(request: Request) -> None:
    options = _options(request)
    writer = request.stream()
    lines = _BuildLines(writer, quiet=request.flag("q"))
    try:
        result = request.client.build(request.body_stream(), progress=lines, **options)
    except Exception as exc:  # noqa: BLE001 - the stream has started: docker reports inside it
        message = str(exc) or type(exc).__name__
        writer.json_line({"errorDetail": {"message": message}, "error": message})
        writer.close()
        return
    if not lines.announced:
        writer.json_line({"aux": {"ID": result.image_id}})
    if lines.quiet:
        writer.json_line({"stream": result.image_id + "\n"})
    writer.close()


def _options(request: Request) -> dict[str, Any]:
    build_args = request.json_arg("buildargs") or {}
    labels = request.json_arg("labels") or {}
    cache_from = request.json_arg("cachefrom") or []
    if not isinstance(build_args, dict) or not isinstance(labels, dict) or not isinstance(cache_from, list):
        raise ApiError(400, "buildargs and labels must be JSON objects, cachefrom a JSON array")
    pull = request.arg("pull")
    network = request.arg("networkmode") or "default"
    return {
        "dockerfile": request.arg("dockerfile") or None,
        "tags": request.query.get("t") or [],
        "build_args": [f"{k}={v}" if v is not None else k for k, v in build_args.items()],
        "labels": [f"{k}={v}" for k, v in labels.items()],
        "target": request.arg("target") or None,
        "no_cache": request.flag("nocache"),
        "pull": True if pull and request.flag("pull") else None,
        "cache_from": [str(c) for c in cache_from],
        "network": "default" if network in ("default", "bridge") else network,
        "platform": request.arg("platform") or None,
        # docker's /build: version=1 (or none) is the classic builder, version=2 BuildKit's session
        "builder": "buildkit" if request.arg("version") == "2" else "classic",
    }


class _BuildLines:
    """Build events as docker's classic builder prints them, one ``{"stream": …}`` each."""

    def __init__(self, writer: ChunkedWriter, *, quiet: bool):
        self.writer = writer
        self.quiet = quiet
        self.announced = False  # the aux line with the image ID went out

    def _stream(self, text: str) -> None:
        if not self.quiet:
            self.writer.write(json.dumps({"stream": text}).encode() + b"\r\n")

    def __call__(self, event) -> None:
        from lamina.build import events
        from lamina.oci.digest import short_id

        if isinstance(event, events.StepStarted):
            self._stream(f"Step {event.number}/{event.total} : {event.text}\n")
        elif isinstance(event, events.StepFinished):
            if event.cached:
                self._stream(" ---> Using cache\n")
            self._stream(f" ---> {short_id(event.image_id) if event.image_id else ''}\n")
        elif isinstance(event, events.TriggersRunning):
            self._stream(f"# Executing {event.count} build trigger{'s' if event.count > 1 else ''}\n")
        elif isinstance(event, events.RunStarted):
            self._stream(f" ---> Running in {event.container_id[:12]}\n")
        elif isinstance(event, events.StepOutput):
            self._stream(event.data.decode("utf-8", "replace"))
        elif isinstance(event, events.BuildWarning):
            self._stream(f"[Warning] {event.text}\n")
        elif isinstance(event, events.Built):  # dockerd: the ID first, then the words
            self.writer.json_line({"aux": {"ID": event.image_id}})
            self.announced = True
            self._stream(f"Successfully built {short_id(event.image_id)}\n")
        elif isinstance(event, events.Tagged):
            self._stream(f"Successfully tagged {event.reference}\n")
