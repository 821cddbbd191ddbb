"""What a container's state reads as in docker's words (``Up 5 minutes (healthy)``,
``Exited (0) 2 hours ago``): the ``STATUS`` column of ``ps`` and the engine API's ``Status``."""

from __future__ import annotations

import time

__all__ = ["human_duration", "status_text"]


def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    if seconds < 1:
        return "Less than a second"
    if int(seconds) == 1:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600 / 24 / 365)} years"


def status_text(container, now: float | None = None) -> str:
    """docker's status line of a container record (``runtime.containers.Container``)."""
    now = time.time() if now is None else now
    if container.status == "running":
        suffix = ""
        if container.config.get("Healthcheck"):
            from lamina.runtime.health import status_suffix

            suffix = status_suffix(container.base)
        return "Up " + human_duration(max(0.0, now - container.started_at)) + suffix
    if container.status == "paused":
        return "Up " + human_duration(max(0.0, now - container.started_at)) + " (Paused)"
    if container.status in ("exited", "restarting"):
        word = "Exited" if container.status == "exited" else "Restarting"
        if not container.finished_at:
            return f"{word} ({container.exit_code})"
        return f"{word} ({container.exit_code}) {human_duration(max(0.0, now - container.finished_at))} ago"
    return {"created": "Created", "dead": "Dead", "removing": "Removal In Progress"}.get(container.status,
                                                                                         container.status)
