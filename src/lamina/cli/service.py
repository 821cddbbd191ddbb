"""``lamina system service``: the Docker Engine API on a socket, until idle."""

from __future__ import annotations

import os
import sys

import click


def default_uri() -> str:
    """``/run/lamina/lamina.sock`` for root, else under ``$XDG_RUNTIME_DIR`` (podman's places)."""
    if os.geteuid() == 0:
        return "unix:///run/lamina/lamina.sock"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/lamina-{os.geteuid()}"
    return f"unix://{runtime_dir}/lamina/lamina.sock"


@click.command("service")
@click.option("-t", "--time", "idle", type=float, default=5.0, show_default=True,
              help="Seconds without a connection before the service exits (0: never)")
@click.argument("uri", required=False)
@click.pass_context
def service(ctx, idle, uri):
    """Serve the Docker Engine API (unix://PATH or tcp://HOST:PORT) for docker's clients."""
    from lamina.errors import UsageError, warn
    from lamina.service import make_service

    uri = uri or default_uri()
    if uri.startswith("tcp://"):
        host = uri.removeprefix("tcp://").rpartition(":")[0].strip("[]")
        if host not in ("127.0.0.1", "localhost", "::1"):
            warn(f"serving the API on {uri}: anyone who can reach it controls lamina and this host as root; "
                 "there is no authentication")
    elif not uri.startswith("unix://"):
        raise UsageError(f"invalid service address {uri}: want unix://PATH or tcp://HOST:PORT")
    root = (ctx.find_root().obj or {}).get("root")
    import signal

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)  # unwinds serve(): the socket file is removed

    # before the socket exists: a SIGTERM as soon as it appears must still remove it
    signal.signal(signal.SIGTERM, stop)
    server = None
    try:
        server = make_service(uri, root, idle_seconds=max(0.0, idle))
        sys.stderr.write(f"lamina: serving the Docker Engine API on {server.address}\n")
        sys.stderr.flush()
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None and server.socket_path is not None:
            server.socket_path.unlink(missing_ok=True)  # also when the signal came before serve()
