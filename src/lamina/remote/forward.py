"""The console entry point's remote door: when a command is meant for another host (``-H``,
``LAMINA_HOST``, a context), run it there and exit with its status.

It is asked before every command, so the local case costs two environment look-ups and at
most one ``stat`` (of the config file that names a current context); the ssh machinery loads
only when a host is chosen.
"""

from __future__ import annotations

import os

from lamina.remote.configdir import current_context_file

__all__ = ["forward"]

#: commands that are about this machine even with a host chosen (docker's ``context`` too)
_LOCAL = ("context",)


def forward(argv: list[str]) -> int | None:
    """Run ``argv`` on the chosen host and return its exit status; None to run it here."""
    from lamina.cli.globalflags import split_globals
    from lamina.remote.contexts import select_host

    flags, rest = split_globals(argv)
    if not ("host" in flags or "context" in flags or os.environ.get("LAMINA_HOST") or os.environ.get("LAMINA_CONTEXT")
            or _maybe_current_context()):
        return None
    host = select_host(flags.get("host") or None, flags.get("context") or None)  # type: ignore[arg-type]
    if host is None or not rest or rest[0] in _LOCAL or rest[:2] == ["image", "scp"]:
        return None
    from lamina.remote.transport import parse_host, run_remote, stdin_is_terminal

    target = parse_host(host)
    remote_args = (["--debug"] if flags.get("debug") else []) + ([f"--root={flags['root']}"] if flags.get("root") else [])
    if rest[0] == "build":
        from lamina.remote.buildupload import forward_build

        return forward_build(target, remote_args, rest[1:])
    tty = stdin_is_terminal() and _wants_tty(rest)
    return run_remote(target, [*remote_args, *rest], tty=tty)


def _maybe_current_context() -> bool:
    return current_context_file().exists()


def _wants_tty(args: list[str]) -> bool:
    """``run``/``exec`` with ``-t``/``--tty`` (alone or in a cluster such as ``-it``) before the
    image or container: the remote side then gets a terminal too (``ssh -tt``)."""
    if args[0] not in ("run", "exec"):
        return False
    for word in args[1:]:
        if word == "--" or not word.startswith("-"):
            break  # the image (or a flag's value: then -t, if given, came before it)
        if word in ("--tty", "--tty=true") or (not word.startswith("--") and "t" in word[1:]
                                                 and word[1:].isalpha() and len(word) <= 4):
            return True
    return False


def forward_guarded(argv: list[str]) -> None:
    """:func:`forward` with errors as one ``lamina: error:`` line; exits when it ran remotely."""
    import sys

    status: list[int | None] = [None]

    def call() -> None:
        status[0] = forward(argv)

    debug = "--debug" in argv[:6] or bool(os.environ.get("LAMINA_DEBUG"))
    if not _cheap_local(argv):
        from lamina.cli.failures import run_guarded

        run_guarded(call, debug)
    if status[0] is not None:
        sys.stdout.flush()
        sys.exit(status[0])


def _cheap_local(argv: list[str]) -> bool:
    """True when no host can be meant: no -H/-c/--host/--context word in front, no LAMINA_HOST or
    LAMINA_CONTEXT, no current-context file (the path of every local command)."""
    if os.environ.get("LAMINA_HOST") or os.environ.get("LAMINA_CONTEXT"):
        return False
    for word in argv[:8]:
        if word in ("-H", "-c") or word.startswith(("--host", "--context")):
            return False
    return not _maybe_current_context()
