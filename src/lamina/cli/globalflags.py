"""The options before the command (``--root DIR``, ``--debug``) as the entry point's doors read
them: the command line's own defaults (``LAMINA_ROOT``, ``LAMINA_DEBUG``) included."""

from __future__ import annotations

import os

__all__ = ["after_globals", "split_globals"]


def after_globals(argv: list[str], command: str) -> tuple[str | None, bool, list[str]] | None:
    """(root, debug, the arguments after ``command``); None when something else comes first."""
    root, debug = os.environ.get("LAMINA_ROOT") or None, bool(os.environ.get("LAMINA_DEBUG"))
    args = list(argv)
    while args and args[0] != command:
        head = args.pop(0)
        if head == "--debug":
            debug = True
        elif head == "--root" and args:
            root = args.pop(0)
        elif head.startswith("--root="):
            root = head.split("=", 1)[1]
        else:
            return None
    if not args:
        return None
    return root, debug, args[1:]


#: the global options that take a value, as the entry point's remote door reads them
_VALUED = {"--root", "-H", "--host", "-c", "--context"}


def split_globals(argv: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """The options before the command (``--root``, ``--debug``, ``-H/--host``, ``-c/--context``) by
    their long names, and the command with its arguments; unknown leading options stay in front."""
    found: dict[str, str | bool] = {}
    args = list(argv)
    while args and args[0].startswith("-") and args[0] != "-":
        head = args[0]
        name, has_value, value = head.partition("=")
        if head == "--debug":
            found["debug"] = True
        elif name in _VALUED and name.startswith("--") and has_value:
            found[name.lstrip("-")] = value
        elif head in _VALUED and len(args) > 1:
            found[{"-H": "host", "-c": "context"}.get(head, head.lstrip("-"))] = args[1]
            args.pop(0)
        else:
            break
        args.pop(0)
    return found, args
