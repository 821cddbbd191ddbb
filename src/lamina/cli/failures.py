"""How a failed command ends: one ``lamina: error: …`` line and docker's exit codes, no
traceback unless ``--debug``. Shared by the click command line and the entry point's doors,
so it imports no click."""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["run_guarded"]


def run_guarded(call: Callable[[], None], debug: bool) -> None:
    """Run ``call``; turn lamina's errors, a closed pipe, Ctrl-C and OS errors into exits."""
    from lamina.errors import LaminaError

    try:
        call()
    except LaminaError as exc:
        if debug:
            raise
        message = str(exc).replace("\n", " ")
        sys.stderr.write(f"lamina: error: {message}\n")
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(141)
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        sys.exit(130)
    except OSError as exc:
        if debug:
            raise
        sys.stderr.write(f"lamina: error: {exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}\n")
        sys.exit(1)
    except Exception as exc:  # a bug in lamina: still one line; the traceback only with --debug
        if debug:
            raise
        message = str(exc).replace("\n", " ")
        sys.stderr.write(f"lamina: error: unexpected {type(exc).__name__}: {message} (--debug shows where)\n")
        sys.exit(1)
