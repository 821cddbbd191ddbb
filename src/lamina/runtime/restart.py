"""Restart policies (``--restart no|on-failure[:N]|always|unless-stopped``), kept by the monitor.

The monitor of a detached container starts it again when it exits and its policy asks for it,
after docker's back-off (100 ms, doubling, at most a minute; back to 100 ms once a run lasted
10 s). ``stop``, ``kill`` and ``rm -f`` leave a mark in the container's dir first, so the
monitor lets it rest; ``start`` clears the mark and the restart count. Without a daemon there
is no daemon restart, so ``always`` and ``unless-stopped`` behave alike.
"""

from __future__ import annotations

from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.runtime.flagerror import FlagError

if TYPE_CHECKING:
    from typing import Any

__all__ = ["POLICIES", "RestartPolicyRefused", "backoff", "clear_stop_mark", "mark_stopped", "parse_restart_policy", "stopped_by_user",
           "wants_restart"]

class RestartPolicyRefused(FlagError):
    """A policy docker's client passes on and its daemon refuses: ``create`` exits 1 for it (not
    125), as docker 28's client does against the daemon (the policy's name and count are the
    daemon's to check; only the count's format is the client's)."""

    daemon_refusal = True


POLICIES = ("no", "on-failure", "always", "unless-stopped")
_STOP_MARK = "stopped-by-user"
_FIRST_DELAY, _MAX_DELAY, _STABLE_RUN = 0.1, 60.0, 10.0


def parse_restart_policy(text: str, *, auto_remove: bool = False) -> dict[str, Any]:
    """``--restart`` as HostConfig.RestartPolicy, with docker's refusals."""
    name, _, count = text.partition(":")
    if name not in POLICIES:
        raise RestartPolicyRefused(f"invalid restart policy '{text}'")
    retries = 0
    if count:
        if not count.lstrip("-").isdigit():
            raise FlagError("invalid restart policy format: maximum retry count must be an integer")
        retries = int(count)
        if name != "on-failure":
            raise RestartPolicyRefused(f"maximum retry count cannot be used with restart policy '{name}'")
        if retries < 0:
            raise RestartPolicyRefused("maximum retry count cannot be negative")
    if auto_remove and name != "no":
        raise FlagError("conflicting options: cannot specify both --restart and --rm")
    return {"Name": name, "MaximumRetryCount": retries}


def wants_restart(host_config: dict[str, Any], base: Path, exit_code: int, restarts: int) -> bool:
    """Whether the monitor starts the container again after it exited with ``exit_code``."""
    policy = host_config.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    if name == "no" or stopped_by_user(base):
        return False
    if name == "on-failure":
        limit = int(policy.get("MaximumRetryCount") or 0)
        return exit_code != 0 and (limit == 0 or restarts < limit)
    return True


def backoff(previous: float, ran_for: float) -> float:
    """The delay before the next start, after waiting ``previous`` s for this one."""
    if ran_for >= _STABLE_RUN or previous <= 0:
        return _FIRST_DELAY
    return min(previous * 2, _MAX_DELAY)


def mark_stopped(base: Path) -> None:
    """The user stopped the container: no restart until the next ``start``."""
    if base.is_dir():
        (base / _STOP_MARK).touch()


def clear_stop_mark(base: Path) -> None:
    (base / _STOP_MARK).unlink(missing_ok=True)


def stopped_by_user(base: Path) -> bool:
    return (base / _STOP_MARK).exists()
