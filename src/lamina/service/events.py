"""docker's event stream for what goes through the service: containers (create, start, die,
kill, stop, destroy, rename, pause, unpause, exec_create, exec_start), images (tag, untag,
delete, pull, push, import, load, save) and volumes (create, destroy). lamina keeps no event
log of its own, so what the CLI does beside the service is not seen here."""

from __future__ import annotations

import threading
import time
from typing import Any

_KEEP = 1000  # the newest events kept for ``since``


class EventBus:
    """Events in order, each a docker ``events`` message; readers wait for new ones."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def publish(self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> None:
        now = time.time_ns()
        message: dict[str, Any] = {"Type": kind, "Action": action,
                                   "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
                                   "scope": "local", "time": now // 1_000_000_000, "timeNano": now}
        if kind == "container":  # the old top-level keys docker still sends
            message.update({"status": action, "id": actor_id, "from": (attributes or {}).get("image", "")})
        elif kind == "image":
            message.update({"status": action, "id": actor_id})
        with self._changed:
            self._events.append(message)
            del self._events[:-_KEEP]
            self._changed.notify_all()

    def since(self, position_ns: int) -> list[dict[str, Any]]:
        with self._changed:
            return [e for e in self._events if e["timeNano"] > position_ns]

    def wait(self, position_ns: int, timeout: float) -> list[dict[str, Any]]:
        """Events newer than ``position_ns``, waiting up to ``timeout`` seconds for one."""
        with self._changed:
            fresh = [e for e in self._events if e["timeNano"] > position_ns]
            if not fresh:
                self._changed.wait(timeout)
                fresh = [e for e in self._events if e["timeNano"] > position_ns]
            return fresh


def matches(event: dict[str, Any], filters: list[str]) -> bool:
    """docker's event filters: type, event, container, image, volume, label (k or k=v); values of
    one key are alternatives, keys must all match."""
    wanted: dict[str, list[str]] = {}
    for item in filters:
        key, _, value = item.partition("=")
        wanted.setdefault(key, []).append(value)
    actor = event["Actor"]
    attributes = actor.get("Attributes") or {}
    for key, values in wanted.items():
        if key == "type":
            ok = event["Type"] in values
        elif key == "event":
            ok = event["Action"].split(":")[0] in values or event["Action"] in values
        elif key in ("container", "volume"):
            ok = event["Type"] == key and any(actor["ID"].startswith(v) or attributes.get("name") == v for v in values)
        elif key == "image":
            ok = any(v in (actor["ID"], attributes.get("image"), attributes.get("name")) for v in values)
        elif key == "label":
            ok = any(attributes.get(v.split("=", 1)[0]) == v.split("=", 1)[1] if "=" in v else v in attributes
                     for v in values)
        else:
            ok = True
        if not ok:
            return False
    return True


def parse_time_ns(text: str | None) -> int | None:
    """docker's ``since``/``until``: Unix seconds (with a fraction) or RFC 3339."""
    if not text:
        return None
    try:
        return int(float(text) * 1_000_000_000)
    except ValueError:
        from lamina.oci.timefmt import parse_rfc3339

        return int(parse_rfc3339(text) * 1_000_000_000)
