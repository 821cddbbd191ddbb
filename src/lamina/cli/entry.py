"""The ``lamina`` console entry point: the no-op rebuild's door first, then the click command line."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if "build" in argv[:4]:  # after at most --root DIR --debug
        from lamina.cli.fastbuild import try_fast_build

        if try_fast_build(argv):
            sys.stdout.flush()
            sys.exit(0)
    from lamina.cli.main import main as command_line

    command_line()
