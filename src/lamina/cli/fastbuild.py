"""``lamina build`` answered before click loads, when it is an unchanged rebuild.

A no-op rebuild takes about a tenth of a second, and loading click and the store's modules was
a third of that. So the console entry point looks at the arguments first: when they are the
plain forms of the flags the fast path keys on (``-t``, ``-f``, ``--build-arg``, ``--network``,
``-q`` … and one context), the recorded answer is looked up with only the standard library,
``build.fastpath`` and the metadata database. Anything else — an unknown flag, a short flag
with its value attached, ``--no-cache``, no record, a changed file — returns False and the
normal command line (click) handles the call exactly as before.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

__all__ = ["print_replay", "recorded_answer", "try_fast_build"]

_VALUED = {"-t": "tags", "--tag": "tags", "-f": "dockerfile", "--file": "dockerfile", "--build-arg": "build_args",
           "--target": "target", "--label": "labels", "--network": "network", "--platform": "platform",
           "--secret": "secrets", "--iidfile": "iidfile", "--progress": "progress"}
_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--rm": None, "--force-rm": None}
_LISTS = ("tags", "build_args", "labels", "secrets")
_PROGRESS = ("auto", "plain", "tty", "quiet")


def _parse(argv: list[str]) -> dict | None:
    """The options of ``[--root DIR] [--debug] build OPTIONS CONTEXT``, or None when unusual."""
    options: dict = {key: [] for key in _LISTS}
    options.update(root=os.environ.get("LAMINA_ROOT") or None, dockerfile=None, target=None, network="default",
                   platform=None, iidfile=None, progress="auto", quiet=False, context=None)
    args = list(argv)
    while args and args[0] != "build":
        head = args.pop(0)
        if head == "--debug":
            continue
        if head == "--root" and args:
            options["root"] = args.pop(0)
        elif head.startswith("--root="):
            options["root"] = head.split("=", 1)[1]
        else:
            return None
    if not args:
        return None
    args.pop(0)
    while args:
        word = args.pop(0)
        if word in _FLAGS:
            if _FLAGS[word]:
                options[_FLAGS[word]] = True
            continue
        name, has_value, value = word.partition("=")
        if name in _VALUED and (word.startswith("--") or not has_value):
            if not has_value:
                if not args:
                    return None
                value = args.pop(0)
            key = _VALUED[name]
            if key in _LISTS:
                options[key].append(value)
            else:
                options[key] = value
            continue
        if word.startswith("-") or options["context"] is not None:
            return None
        options["context"] = word
    if options["context"] is None or options["progress"].lower() not in _PROGRESS:
        return None
    return options


def try_fast_build(argv: list[str]) -> bool:
    """Print a recorded no-op rebuild's answer and return True; False to let click run the build."""
    options = _parse(argv)
    if options is None:
        return False
    try:
        from lamina.build.fastpath import FastRequest

        request = FastRequest(options["context"], options["dockerfile"], options["tags"], options["build_args"],
                              options["target"], options["labels"], options["network"], options["platform"],
                              options["secrets"])
        answer = recorded_answer(options["root"], request)
    except Exception:  # noqa: BLE001 - any doubt: the normal path runs and reports properly
        return False
    if answer is None:
        return False
    progress = options["progress"].lower()
    mode = "quiet" if options["quiet"] or progress == "quiet" else progress
    if mode == "auto":
        mode = "tty" if sys.stderr.isatty() else "plain"
    print_replay(answer, mode, options["iidfile"])
    return True


def recorded_answer(root: str | None, request):
    """The fast path's recorded answer for ``request`` in the store at ``root`` (default store
    when None), read through the metadata database alone; None when there is none."""
    from lamina.build.fastpath import lookup
    from lamina.store.location import default_root
    from lamina.store.metadata import Metadata

    database = os.path.join(root or default_root(), "metadata.db")
    if not os.path.isfile(database):
        return None
    meta = Metadata(database)
    try:
        return lookup(SimpleNamespace(meta=meta), request)
    finally:
        meta.close()


def print_replay(answer, mode: str, iidfile: str | None) -> None:
    """What the fully cached build prints (quiet: the ID; tty: the live display's last frame)."""
    if mode == "quiet":
        sys.stdout.write(answer.image_id + "\n")
    elif mode == "tty":
        from lamina.cli.buildtty import replay

        replay(answer.transcript, answer.image_id)
    else:
        for stream, text in answer.transcript:
            (sys.stderr if stream == "err" else sys.stdout).write(text + "\n")
    if iidfile:
        with open(iidfile, "w") as out:
            out.write(answer.image_id)
