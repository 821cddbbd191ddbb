"""Where a ``lamina build`` spends its time: wall seconds per phase of the builder.

    LAMINA_ROOT=/var/tmp/store python bench/build_phases.py -- build --no-cache --network host CTX

Runs the ``lamina`` CLI in this process with timers wrapped around the builder's phases
(snapshot unpacking, overlay mount/unmount, runc, the layer diff, removing a step's container
dir, image commits, COPY layers, overlay views) and prints, on stderr, each phase's total
seconds and call count. Phases nest (``run_in_snapshot`` holds mount, runc and unmount), so
the rows do not add up; "outside" is the build's time in none of the top-level phases.
"""

from __future__ import annotations

import atexit
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

# (module, attribute path) of each phase; nested phases come after the ones that hold them.
PHASES = (
    ("lamina.build.executor", "_Build.run"),
    ("lamina.runtime.step", "run_in_snapshot"),
    ("lamina.store.snapshots", "Snapshots.lower_dirs"),
    ("lamina.store.snapshots", "Snapshots.ensure"),
    ("lamina.runtime.mounts", "mount_overlay"),
    ("lamina.runtime.mounts", "unmount"),
    ("lamina.runtime.step", "_run"),
    ("lamina.runtime.runc", "Runc.start"),
    ("lamina.runtime.runc", "Runc.wait"),
    ("lamina.runtime.step", "remove_mount_stubs"),
    ("lamina.runtime.step", "cleanup_stale"),
    ("lamina.runtime.step", "commit_upper"),
    ("lamina.layer.overlaydiff", "write_overlay_diff"),
    ("lamina.runtime.step", "StepResult.discard"),
    ("lamina.runtime.mounts", "remove_container_dir"),
    ("lamina.build.commit", "commit_step"),
    ("lamina.build.copy", "write_plan"),
    ("lamina.build.rootfs", "RootfsViews.view"),
    ("lamina.build.cache", "BuildCache.lookup"),
    ("lamina.store.snapshots", "Snapshots.adopt"),
)

totals: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)
_active: list[str] = []


def _timed(name: str, function: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        _active.append(name)
        try:
            return function(*args, **kwargs)
        finally:
            _active.pop()
            if name not in _active:  # recursion counts once
                totals[name] += time.perf_counter() - started
            calls[name] += 1

    wrapper.__wrapped__ = function
    return wrapper


def install() -> None:
    import importlib

    for module_name, attribute in PHASES:
        module = importlib.import_module(module_name)
        owner_name, _, name = attribute.rpartition(".")
        owner = getattr(module, owner_name) if owner_name else module
        original = getattr(owner, name, None)
        if original is None:
            continue
        wrapped = _timed(attribute, original)
        setattr(owner, name, wrapped)
        if owner_name:
            continue
        for other in list(sys.modules.values()):  # ``from x import f`` copies: patch them too
            if getattr(other, "__name__", "").startswith("lamina.") and getattr(other, name, None) is original:
                setattr(other, name, wrapped)


def report() -> None:
    for _module, attribute in PHASES:
        if calls[attribute]:
            print(f"{attribute:28} {totals[attribute]:8.2f} s  {calls[attribute]:4d} calls", file=sys.stderr)


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    import lamina.build.executor  # noqa: F401  (the modules PHASES names must be loaded to patch)
    import lamina.build.run_step  # noqa: F401
    from lamina.cli.main import main as cli

    install()
    atexit.register(report)
    sys.argv = ["lamina", *argv]
    cli()


if __name__ == "__main__":
    main()
