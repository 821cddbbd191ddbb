"""``lamina run`` started before click loads.

A short-lived ``run --rm IMAGE CMD`` spends most of its time starting Python and importing;
click alone was a quarter of that. So the console entry point parses ``run``'s flags itself
from the same table click's options are made from (:mod:`lamina.runtime.runflags`) and calls the
same code the click command calls (:mod:`lamina.cli.containerrun`). Anything it does not take
exactly as click would — an unknown flag, ``--help``, a flag value that is not an integer
where one is wanted, a missing image — returns None, and click parses the call and reports.
"""

from __future__ import annotations

import os

from lamina.cli.globalflags import after_globals
from lamina.runtime.runflags import RUN_FLAGS, defaults

__all__ = ["parse_run", "try_run"]

_BY_NAME = {name: (dest, kind) for names, dest, kind, _help in RUN_FLAGS for name in names}
_BY_NAME["-d"] = _BY_NAME["--detach"] = ("detach", "flag")


def parse_run(argv: list[str]) -> tuple[dict, str, list[str]] | None:
    """``[--root DIR] [--debug] run FLAGS IMAGE [COMMAND…]`` as (options, image, command), the
    options keyed as click's (plus ``root``, ``debug``, ``detach``); None when unusual."""
    leading = after_globals(argv, "run")
    if leading is None:
        return None
    options = defaults()
    options["root"], options["debug"], args = leading
    options["detach"] = False
    while args:
        word = args[0]
        if word == "--":
            args.pop(0)
            break
        if not word.startswith("-") or word == "-":
            break
        args.pop(0)
        if word.startswith("--"):
            name, has_value, value = word.partition("=")
            found = _BY_NAME.get(name)
            if found is None or (has_value and found[1] == "flag"):
                return None
            if not has_value:
                if found[1] != "flag":
                    if not args:
                        return None
                    value = args.pop(0)
            if not _take(options, found, value):
                return None
            continue
        # a cluster of short flags; a valued one takes the rest of the word or the next word
        letters = word[1:]
        while letters:
            found = _BY_NAME.get("-" + letters[0])
            if found is None:
                return None
            letters = letters[1:]
            value = None
            if found[1] != "flag":
                if letters:
                    value, letters = letters, ""
                elif args:
                    value = args.pop(0)
                else:
                    return None
            if not _take(options, found, value):
                return None
    if not args:
        return None
    return options, args[0], args[1:]


def _take(options: dict, found: tuple[str, str], value: str | None) -> bool:
    dest, kind = found
    if kind == "flag":
        options[dest] = True
    elif kind == "multi":
        options[dest] = (*options[dest], value)
    elif kind == "int":
        try:
            options[dest] = int(value)
        except ValueError:
            return False
    else:
        options[dest] = value
    return True


def try_run(argv: list[str]) -> bool:
    """Run the container and return True (the process usually exits inside); False to let click
    parse the call."""
    parsed = parse_run(argv)
    if parsed is None:
        return False
    options, image, command = parsed
    root, debug, detach, quiet = (options.pop(key) for key in ("root", "debug", "detach", "quiet"))
    early = not detach and options["network"] in (None, "private", "bridge", "default") and os.geteuid() == 0
    if early:  # slirp4netns comes up on the other core while lamina loads
        from lamina.runtime import earlynet

        earlynet.prepare()
    from lamina.cli.containerrun import run_container
    from lamina.cli.failures import run_guarded

    try:
        run_guarded(lambda: run_container(root, image, command, detach=detach, quiet=quiet, params=options), debug)
    finally:
        if early:
            earlynet.discard()
    return True
