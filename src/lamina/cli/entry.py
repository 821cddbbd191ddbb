"""The ``lamina`` console entry point: the doors of the two commands whose start-up time users
feel (an unchanged rebuild, a short ``run``), then the click command line for everything else."""

from __future__ import annotations

import sys


def main() -> None:
    from lamina.errors import set_warning_sink  # loaded with the package: costs nothing

    set_warning_sink(_print_warning)
    argv = sys.argv[1:]
    from lamina.remote.forward import forward_guarded  # -H, LAMINA_HOST, a context: run it over there

    forward_guarded(argv)
    head = argv[:4]  # the command comes after at most --root DIR --debug
    if "build" in head:
        from lamina.cli.fastbuild import try_fast_build

        if try_fast_build(argv):
            sys.stdout.flush()
            sys.exit(0)
    elif "run" in head:
        from lamina.cli.rundoor import try_run

        if try_run(argv):
            sys.stdout.flush()
            sys.exit(0)
    from lamina.cli.main import main as command_line

    command_line()


def _print_warning(message: str) -> None:
    """The library's warnings (``lamina.errors.warn``) as docker-style lines on stderr."""
    sys.stderr.write(f"lamina: warning: {message}\n")
    sys.stderr.flush()
