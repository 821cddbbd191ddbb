"""The service's child processes: a container started with its streams attached, and an exec.

``python -m lamina.service.child ROOT start|exec CONTAINER [JSON]``. Both run what the CLI's
``start --attach`` and ``exec`` run (the foreground supervisor, ``runc exec``), on this process's
stdin/stdout/stderr, which the service connects to a client's hijacked socket. A process of their
own, because both use process-wide state (the standard streams, a child subreaper, signals)
that threads of the service cannot share. Exits with the container's or command's exit code;
lamina's own error is one ``lamina: error:`` line on stderr.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from lamina.api import Client
    from lamina.errors import LaminaError

    root, verb, container = argv[0], argv[1], argv[2]
    options = json.loads(argv[3]) if len(argv) > 3 else {}
    try:
        with Client(root or None) as client:
            if verb == "start":
                from lamina.runtime.monitor import Attach

                attach = Attach(stdin=0 if options.get("stdin") else None, proxy_signals=False)
                return client.start_container(container, attach=attach) or 0
            if verb == "exec":
                return client.exec_in_container(container, options["cmd"], tty=bool(options.get("tty")),
                                                interactive=bool(options.get("stdin")), env=options.get("env") or [],
                                                user=options.get("user") or None,
                                                workdir=options.get("workdir") or None)
            raise LaminaError(f"unknown verb {verb}")
    except LaminaError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"lamina: error: {exc}\n")
        return getattr(exc, "exit_code", 1) or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
