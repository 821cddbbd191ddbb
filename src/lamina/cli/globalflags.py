"""The options before the command (``--root DIR``, ``--debug``) as the entry point's doors read
them: the command line's own defaults (``LAMINA_ROOT``, ``LAMINA_DEBUG``) included."""

from __future__ import annotations

import os

__all__ = ["after_globals"]


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
