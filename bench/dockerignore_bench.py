"""How long .dockerignore matching takes: adversarial patterns (issue 12, item 4) and everyday ones.

Adversarial: 50 patterns like ``**/**/…/a*a*a*…b`` over a 25-deep tree of ``aaaa…`` names (no
``b`` anywhere, so every pattern fails only after trying every split). Before, each pattern was a
Python ``re`` that backtracked exponentially in its wildcards: the build ran past 60 s. Now those
patterns run on RE2 (linear time, like docker's Go regexps).

Everyday: a 20,000-file tree with the patterns people write (``**/*.pyc``, ``node_modules``,
``*.log``, ``build/**``, ``!keep.log``), timed with the engine lamina picks per pattern, with
RE2 for every pattern and with Python's ``re`` for every pattern.

    python bench/dockerignore_bench.py [--old]   # --old also times the backtracking engine on a
                                                  # smaller tree, stopped after 20 s of CPU
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

from lamina.build import dockerignore
from lamina.build.context import walk_context
from lamina.build.dockerignore import LinearRegex, PatternMatcher


def adversarial_patterns(count: int = 50, stars: int = 8) -> list[str]:
    return ["/".join(["**"] * (2 + n % 10)) + "/" + "a*" * (stars + n % 4) + "b" for n in range(count)]


def deep_tree(root: Path, depth: int, name: str = "a" * 30) -> Path:
    root.mkdir()
    directory = root
    for level in range(depth):
        directory = directory / name
        directory.mkdir()
        (directory / ("a" * (20 + level % 5))).write_text("x")
    return root


def everyday_tree(root: Path, files: int = 20_000) -> Path:
    for n in range(files):
        directory = root / f"pkg{n % 40}" / f"mod{n % 13}" / ("node_modules" if n % 17 == 0 else "src")
        directory.mkdir(parents=True, exist_ok=True)
        suffix = (".py", ".pyc", ".log", ".txt")[n % 4]
        (directory / f"file{n}{suffix}").write_text("")
    return root


EVERYDAY = ["**/*.pyc", "**/node_modules", "*.log", "build/**", "pkg1*/mod?/src/*.txt", "!keep.log", "**/.git"]


def cpu_seconds(root: Path, patterns: list[str]) -> tuple[float, int]:
    start = time.process_time()
    kept = sum(1 for _ in walk_context(root, PatternMatcher(patterns)))
    return time.process_time() - start, kept


class _Stop(Exception):
    pass


def with_engine(use_re2: bool | None):
    """Force one engine for every pattern (None: lamina's own choice)."""
    def forced(source: str, unbounded: int) -> LinearRegex:
        return LinearRegex(source, use_re2=(unbounded > 1) if use_re2 is None else use_re2)

    dockerignore.linear_regex = forced
    dockerignore._GLOB_CACHE.clear()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", action="store_true", help="also time Python's backtracking re (slow)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tree = deep_tree(Path(scratch) / "deep", 25)
        with_engine(None)
        seconds, kept = cpu_seconds(tree, adversarial_patterns())
        print(f"adversarial, 50 patterns, 25-deep tree ({kept} paths): {seconds * 1000:.1f} ms CPU")
        if args.old:
            small = deep_tree(Path(scratch) / "small", 6)
            with_engine(False)
            signal.signal(signal.SIGXCPU, lambda *_: (_ for _ in ()).throw(_Stop()))
            used = resource.getrusage(resource.RUSAGE_SELF).ru_utime
            resource.setrlimit(resource.RLIMIT_CPU, (int(used) + 20, resource.RLIM_INFINITY))
            start = time.process_time()
            try:
                seconds, kept = cpu_seconds(small, adversarial_patterns(5))
                print(f"  python re, 5 patterns, 6-deep tree: {seconds:.1f} s CPU")
            except _Stop:
                print(f"  python re, 5 patterns, 6-deep tree: stopped after {time.process_time() - start:.0f} s CPU")
            resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

        tree = everyday_tree(Path(scratch) / "everyday")
        for label, engine in (("lamina's choice", None), ("RE2 for all", True), ("re for all", False)):
            with_engine(engine)
            best = min(cpu_seconds(tree, EVERYDAY)[0] for _ in range(3))
            _, kept = cpu_seconds(tree, EVERYDAY)
            print(f"everyday, {len(EVERYDAY)} patterns, 20,000 files ({kept} kept), {label}: {best * 1000:.0f} ms CPU")
        with_engine(None)
        best = min(cpu_seconds(tree, [])[0] for _ in range(3))
        print(f"everyday, no .dockerignore: {best * 1000:.0f} ms CPU (the walk itself)")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
