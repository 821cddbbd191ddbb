"""``lamina run`` and ``create`` after their flags are parsed: by click, or by the entry
point's door (:mod:`lamina.cli.rundoor`) which skips loading click. Imports no click."""

from __future__ import annotations

import os
import sys

__all__ = ["create_container", "make_options", "run_container"]


def make_options(params: dict, command, detach: bool):
    """The API's RunOptions from the parsed flags: every destination of ``runtime.runflags``
    is a RunOptions field of the same name."""
    from lamina import RunOptions
    from lamina.runtime.runflags import CLI_ONLY, RUN_FLAGS

    fields = {dest: list(params[dest]) if kind == "multi" else params[dest]
              for _names, dest, kind, _help in RUN_FLAGS if dest not in CLI_ONLY}
    pids = fields["pids_limit"]
    fields["pids_limit"] = None if pids is None or pids <= 0 else pids
    return RunOptions(command=list(command), detach=detach, **fields)


def create_container(client, image: str, options, quiet: bool) -> str:
    """Create the container; a pull it needs reports on stderr (stdout is the container's).
    Every failure here exits 125, as docker's run/create do for daemon errors."""
    from lamina.errors import LaminaError

    if options.publish and options.network == "host":
        _to_stderr("WARNING: Published ports are discarded when using host network mode")
    cidfile = _claim_cidfile(options.cidfile) if options.cidfile else None
    try:
        container_id = client.create_container(image, options, events=None if quiet else _pull_event,
                                               announce=None if quiet else _to_stderr)
    except BaseException as exc:
        if cidfile is not None:
            os.unlink(cidfile)
        if isinstance(exc, LaminaError):
            exc.exit_code = 125
        raise
    if cidfile is not None:
        with open(cidfile, "w") as handle:
            handle.write(container_id)
    return container_id


def _claim_cidfile(path: str) -> str:
    """docker's --cidfile: made (empty) before the container, refused when it exists, removed
    again if the create fails."""
    from lamina import FlagError

    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
    except FileExistsError:
        raise FlagError(f"container ID file found, make sure the other container isn't running or delete {path}") \
            from None
    except OSError as exc:
        raise FlagError(f"failed to create the container ID file: {exc}") from None
    return path


def run_container(root: str | None, image: str, command, *, detach: bool, quiet: bool, params: dict) -> None:
    """Create and start the container: detached, print its ID; in the foreground, stream its
    output and exit with its status."""
    from lamina import Attach, Client

    options = make_options(params, command, detach)
    if options.tty and options.interactive and not os.isatty(0):
        from lamina.errors import LaminaError

        raise LaminaError("the input device is not a TTY")  # docker refuses before creating anything
    with Client(root=root) as client:
        container_id = create_container(client, image, options, quiet)
        if detach:  # the ID first, as docker's: a failed start still names the container it left
            sys.stdout.write(container_id + "\n")
            sys.stdout.flush()
            client.start_container(container_id)
            return
        sys.stdout.flush()
        attach = Attach(stdin=0 if options.interactive else None, stdout=1, stderr=2)
        code = client.start_container(container_id, attach=attach,
                                      raw_terminal=0 if options.tty and options.interactive else None)
        # Exits without closing the store: its last close would checkpoint the WAL with an
        # fsync (≈10 ms); the next writer's automatic checkpoint takes care of it.
        _exit_now(code or 0)


def _exit_now(code: int) -> None:
    """Exit with the container's status once everything is flushed, skipping the interpreter's
    teardown of every loaded module (tens of ms: a third of a short ``run``)."""
    if "lamina.runtime.earlynet" in sys.modules:  # finally clauses do not run past os._exit
        sys.modules["lamina.runtime.earlynet"].discard()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _to_stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _pull_event(event) -> None:
    """docker's plain pull lines (``<id>: Pull complete``), without byte counters."""
    if event.status == "Downloading":
        return
    sys.stderr.write(f"{event.id}: {event.status}\n" if event.id else f"{event.status}\n")
