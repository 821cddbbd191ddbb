"""Container commands: run, create, start, stop, restart, kill, wait, rm, ps, logs, exec,
export, commit, port, top, pause, unpause, rename, stats, cp, attach, diff, container inspect/prune.
Formatting only; the work is in ``Client``."""

from __future__ import annotations

import json
import sys
import time

import click

from lamina.cli.main import client_from
from lamina.cli.output import confirm_or_abort, go_time, human_duration, human_size, print_formatted, tabulate

_RUN_SETTINGS = {"allow_interspersed_args": False, "help_option_names": ["--help"]}
_PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
               "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
               "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS"}


def _run_options(function):
    """The flags ``run`` and ``create`` share (docker's names and short forms), from the one table."""
    from lamina.runtime.runflags import RUN_FLAGS, default_of

    for names, dest, kind, help_text in reversed(RUN_FLAGS):
        extra = {"is_flag": True} if kind == "flag" else {"multiple": True} if kind == "multi" else \
            {"type": int} if kind == "int" else {}
        function = click.option(*names, dest, default=default_of(dest, kind), help=help_text, **extra)(function)
    return function


@click.command("run", context_settings=_RUN_SETTINGS)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-d", "--detach", is_flag=True, help="Run container in background and print container ID")
@_run_options
@click.pass_context
def run(ctx, image, command, detach, quiet, **params):
    """Create and run a new container from an image."""
    from lamina.cli.containerrun import run_container

    run_container((ctx.find_root().obj or {}).get("root"), image, command, detach=detach, quiet=quiet, params=params)


@click.command("create", context_settings=_RUN_SETTINGS)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@_run_options
@click.pass_context
def create(ctx, image, command, quiet, **params):
    """Create a new container."""
    from lamina import FlagError
    from lamina.cli.containerrun import create_container, make_options
    from lamina.errors import LaminaError

    options = make_options(params, command, False)  # docker's create attaches stdout and stderr
    with client_from(ctx) as client:
        try:
            container_id = create_container(client, image, options, quiet)
        except LaminaError as exc:
            client_side = isinstance(exc, FlagError) and not getattr(exc, "daemon_refusal", False)
            exc.exit_code = 125 if client_side else 1  # docker: 1 for its daemon's refusals
            raise
        sys.stdout.write(container_id + "\n")


@click.command("start")
@click.argument("names", nargs=-1, required=True)
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@click.pass_context
def start(ctx, names, attach, interactive):
    """Start one or more stopped containers."""
    from lamina import Attach

    if attach or interactive:
        if len(names) > 1:
            from lamina.errors import LaminaError

            raise LaminaError("you cannot start and attach multiple containers at once")
        from lamina.errors import LaminaError

        with client_from(ctx) as client:
            try:
                if client.container(names[0]).status == "paused":
                    raise LaminaError("cannot start a paused container, try unpause instead")
                code = client.start_container(names[0], attach=Attach(stdin=0 if interactive else None))
            except LaminaError as exc:
                exc.exit_code = 1  # docker's start fails with 1 where run says 125/126/127
                raise
        sys.exit(code or 0)
    _each(ctx, names, _start_one)


def _start_one(client, name: str) -> None:
    """docker's start: a running container is left alone, a paused one is refused."""
    from lamina.errors import ConflictError

    if client.container(name).status == "paused":
        raise ConflictError("cannot start a paused container, try unpause instead")
    client.start_container(name)


@click.command("stop")
@click.argument("names", nargs=-1, required=True)
@click.option("-s", "--signal", "signal_", help="Signal to send to the container")
@click.option("-t", "--timeout", "--time", "timeout", type=int, help="Seconds to wait before killing the container")
@click.pass_context
def stop(ctx, names, signal_, timeout):
    """Stop one or more running containers."""
    _each(ctx, names, lambda client, name: _stop_one(client, name, timeout, signal_))


@click.command("restart")
@click.argument("names", nargs=-1, required=True)
@click.option("-s", "--signal", "signal_", help="Signal to send to the container")
@click.option("-t", "--timeout", "--time", "timeout", type=int, help="Seconds to wait before killing the container")
@click.pass_context
def restart(ctx, names, signal_, timeout):
    """Restart one or more containers."""
    def restart_one(client, name: str) -> None:
        _stop_one(client, name, timeout, signal_)
        client.start_container(name)

    _each(ctx, names, restart_one)


def _stop_one(client, name: str, timeout: int | None, signal_text: str | None) -> None:
    """``stop`` of one container; a bad ``--signal`` is the daemon's refusal (exit status 1)."""
    from lamina.errors import LaminaError, UsageError

    if signal_text is None:
        client.stop_container(name, timeout=timeout)
        return
    try:
        client.stop_container(name, timeout=timeout, signal=signal_text)
    except UsageError as exc:
        raise LaminaError(str(exc)) from None


@click.command("kill")
@click.argument("names", nargs=-1, required=True)
@click.option("-s", "--signal", "signal_", default="KILL", help="Signal to send to the container")
@click.pass_context
def kill(ctx, names, signal_):
    """Kill one or more running containers."""
    _each(ctx, names, lambda client, name: _kill_one(client, name, signal_))


def _kill_one(client, name: str, signal_text: str) -> None:
    """docker's daemon checks the signal per container and answers with exit status 1: an
    unknown name is an invalid signal, a number past the last one is refused for the container."""
    from lamina.errors import LaminaError, UsageError
    from lamina.runtime.signals import parse_signal

    try:
        parse_signal(signal_text)
    except UsageError as exc:
        number = signal_text.strip()
        if not number.isdigit() or int(number) == 0:
            raise LaminaError(str(exc)) from None
        client.container(name)
        raise LaminaError(f"Cannot kill container: {name}: The linux daemon does not support signal "
                          f"{int(number)}") from None
    client.kill_container(name, signal=signal_text)


@click.command("wait")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def wait(ctx, names):
    """Block until one or more containers stop, then print their exit codes."""
    _each(ctx, names, lambda client, name: client.wait_container(name), echo_result=True)


@click.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container (uses SIGKILL)")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container")
@click.pass_context
def rm(ctx, names, force, volumes):
    """Remove one or more containers (with ``-f``, a missing one is reported but is no failure,
    as in docker)."""
    _each(ctx, names, lambda client, name: client.remove_container(name, force=force, volumes=volumes),
          missing_is_fine=force)


class _PsRow:
    """The fields docker's container formatter offers to ``--format`` templates."""

    def __init__(self, container, no_trunc: bool, image_label: str, size: str = ""):
        from lamina.runtime.ports import format_ports

        document = container.document
        # docker's daemon wraps each argument holding a space in single quotes
        args = [f"'{arg}'" if " " in arg else arg for arg in document["Args"]]
        command = " ".join([document["Path"], *args])
        self.ID = container.id if no_trunc else container.id[:12]
        self.Image = image_label
        self.Command = json.dumps(command if no_trunc else _ellipsis(command, 20), ensure_ascii=False)
        self.CreatedAt = go_time(container.created)
        self.RunningFor = human_duration(max(0.0, time.time() - container.created)) + " ago"
        self.Ports = format_ports(_port_map(container)) if container.running else ""
        self.State = container.status
        self.Status = _status(container)
        self.Size = size
        self.Names = container.name
        self._labels = container.config.get("Labels") or {}
        self.Labels = ",".join(f"{k}={v}" for k, v in sorted(self._labels.items()))
        self.Mounts = ",".join(m.get("Name") or m.get("Source", "") for m in document.get("Mounts") or [])
        self.Networks = container.host_config.get("NetworkMode", "")

    def template_fields(self) -> dict:
        return {k: getattr(self, k) for k in sorted(_PS_HEADERS)}

    def Label(self, name: str) -> str:  # noqa: N802 - docker's template method name
        """``{{.Label "key"}}``: one label's value ("" when absent)."""
        return (self._labels or {}).get(name, "")


@click.command("ps")
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "format_", help="Pretty-print containers using a Go template")
@click.option("-n", "--last", type=int, default=-1, help="Show n last created containers (includes all states)")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container (includes all states)")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.pass_context
def ps(ctx, all_, quiet, no_trunc, filters, format_, last, latest, size):
    """List containers."""
    if latest:
        last = 1
    with client_from(ctx) as client:
        containers = client.list_containers(all=all_ or last > 0, filters=filters)
        if last > 0:
            containers = containers[:last]
        if quiet:
            sys.stdout.write("".join((c.id if no_trunc else c.id[:12]) + "\n" for c in containers))
            return
        labels = _image_labels(client, containers)
        want_size = size or "{{.Size}}" in (format_ or "") or "{{ .Size }}" in (format_ or "")
        sizes = {c.id: _ps_size(client, c) for c in containers} if want_size else {}
    rows = [_PsRow(c, no_trunc, labels[c.id], sizes.get(c.id, "")) for c in containers]
    if format_ and format_ != "table":
        print_formatted(rows, format_, _PS_HEADERS)
        return
    table = [["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", *(["SIZE"] if size else [])]]
    table += [[r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names, *([r.Size] if size else [])]
              for r in rows]
    sys.stdout.write(tabulate(table))


def _sizes(client, container) -> dict:
    """inspect --size: docker's SizeRw (what the container wrote) and SizeRootFs (with its image)."""
    return client.container_size(container.id)


def _ps_size(client, container) -> str:
    """docker's SIZE: what the container wrote, and that plus its image (``0B (virtual 1.98MB)``)."""
    sizes = _sizes(client, container)
    return f"{human_size(sizes['SizeRw'])} (virtual {human_size(sizes['SizeRootFs'])})"


@click.command("logs")
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("-n", "--tail", default="all", help='Number of lines to show from the end of the logs')
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--since", help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)")
@click.option("--until", help="Show logs before a timestamp or relative duration")
@click.option("--details", is_flag=True, help="Show extra details provided to logs")
@click.pass_context
def logs(ctx, name, follow, tail, timestamps, since, until, details):
    """Fetch the logs of a container."""
    from lamina.runtime.logs import format_nano_fixed

    tail_count = int(tail) if tail.strip().lstrip("-").isdigit() else None  # docker: anything else is "all"
    if tail_count is not None and tail_count < 0:
        tail_count = None
    for flag, value in (("since", since), ("until", until)):
        _check_log_time(flag, value)
    outputs = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}
    with client_from(ctx) as client:
        for entry in client.container_logs(name, follow=follow, tail=tail_count, since=since, until=until):
            out = outputs.get(entry.stream, sys.stdout.buffer)
            prefix = format_nano_fixed(entry.time_ns) + " " if timestamps else ""
            if details:
                prefix += " "  # docker: the entry's attributes (none here), then a space
            out.write((prefix + entry.text).encode("utf-8", "surrogateescape"))
            if follow:
                out.flush()


def _check_log_time(flag: str, value: str | None) -> None:
    """A --since/--until the daemon would refuse, in its words (exit status 1)."""
    from lamina.errors import LaminaError, UsageError
    from lamina.runtime.logs import parse_since

    if value is None:
        return
    try:
        parse_since(value)
    except UsageError:
        raise LaminaError(f'invalid value for "{flag}": failed to parse value as time or duration: "{value}"') \
            from None


@click.command("exec", context_settings=_RUN_SETTINGS)
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("--env-file", "env_files", multiple=True, help="Read in a file of environment variables")
@click.option("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])")
@click.option("-w", "--workdir", help="Working directory inside the container")
@click.option("--detach-keys", help="Override the key sequence for detaching a container (accepted for docker's sake)")
@click.pass_context
def exec_(ctx, name, command, detach, interactive, tty, env, env_files, user, workdir, detach_keys):
    """Execute a command in a running container."""
    import os

    from lamina.runtime.runconfig import parse_env_file

    if tty and interactive and not sys.stdin.isatty():
        from lamina.errors import LaminaError

        raise LaminaError("the input device is not a TTY")
    # docker's client: --env-file entries first, then -e; a bare -e KEY takes its value from the
    # client's environment (a KEY it lacks stays bare, which unsets it)
    env = [entry for path in env_files for entry in parse_env_file(path)] + [
        entry if "=" in entry or entry not in os.environ else f"{entry}={os.environ[entry]}" for entry in env]
    with client_from(ctx) as client:
        code = client.exec_in_container(name, command, tty=tty, interactive=interactive, detach=detach,
                                        env=env, user=user, workdir=workdir)
    sys.exit(code)


@click.command("export")
@click.argument("name")
@click.option("-o", "--output", help="Write to a file, instead of STDOUT")
@click.pass_context
def export(ctx, name, output):
    """Export a container's filesystem as a tar archive."""
    import os

    from lamina.cli.output import write_archive
    from lamina.errors import LaminaError

    parent = os.path.dirname(os.path.abspath(output)) if output else ""
    if parent and not os.path.isdir(parent):
        raise LaminaError(f"failed to export container: invalid output path: stat {parent}: no such file or directory")
    with client_from(ctx) as client:
        write_archive(output, lambda out: client.export_container(name, out))


@click.command("commit")
@click.argument("name")
@click.argument("reference", required=False)
@click.option("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
@click.option("-c", "--change", multiple=True, help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Commit message")
@click.option("-p", "--pause", default=True, type=click.BOOL, help="Pause container during commit")
@click.pass_context
def commit(ctx, name, reference, author, change, message, pause):
    """Create a new image from a container's changes."""
    from lamina.errors import LaminaError

    with client_from(ctx) as client:
        try:
            image_id = client.commit_container(name, reference, changes=change, message=message, author=author,
                                               pause=pause)
        except LaminaError as exc:
            exc.exit_code = 1  # docker's daemon refuses a bad --change (or anything else here) with status 1
            raise
    sys.stdout.write(image_id + "\n")


@click.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", help="Format output using a custom template")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.pass_context
def inspect(ctx, names, format_, size):
    """Display detailed information on one or more containers."""
    from lamina.cli.gotemplate import render
    from lamina.errors import LaminaError

    documents, failed = [], False
    with client_from(ctx) as client:
        for name in names:
            try:
                document = client.inspect_container(name)
                if size:
                    document.update(_sizes(client, client.container(name)))
                documents.append(document)
            except LaminaError as exc:
                failed = True
                sys.stderr.write(f"lamina: error: {exc}\n")
    if format_ == "json":  # docker: the array on one line
        sys.stdout.write(json.dumps(documents, separators=(",", ":"), ensure_ascii=False) + "\n")
    elif format_:
        for document in documents:
            sys.stdout.write(render(format_.replace("\\n", "\n").replace("\\t", "\t"), document) + "\n")
    else:
        sys.stdout.write(json.dumps(documents, indent=4, ensure_ascii=False) + "\n")
    if failed:
        sys.exit(1)


@click.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (not supported yet)")
@click.pass_context
def prune(ctx, force, filters):
    """Remove all stopped containers."""
    if filters:
        raise click.UsageError("container prune --filter is not supported by lamina yet")
    warning = "WARNING! This will remove all stopped containers."
    if not force and not confirm_or_abort(warning):
        return
    with client_from(ctx) as client:
        removed, reclaimed = client.prune_containers()
    if removed:
        sys.stdout.write("Deleted Containers:\n" + "".join(f"{i}\n" for i in removed) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(reclaimed)}\n")


@click.command("port")
@click.argument("name")
@click.argument("private_port", required=False)
@click.pass_context
def port(ctx, name, private_port):
    """List port mappings or a specific mapping for the container."""
    from lamina.errors import LaminaError

    with client_from(ctx) as client:
        bindings = client.container_ports(name)
    if private_port is None:
        sys.stdout.write("".join(f"{key} -> {ip}:{host_port}\n" for key, ip, host_port in bindings))
        return
    wanted = private_port if "/" in private_port else private_port + "/tcp"
    matches = [(ip, host_port) for key, ip, host_port in bindings if key == wanted.lower()]
    if not matches:
        raise LaminaError(f"No public port '{private_port}' published for {name}")
    sys.stdout.write("".join(f"{ip}:{host_port}\n" for ip, host_port in matches))


@click.command("top", context_settings=_RUN_SETTINGS)
@click.argument("name")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def top(ctx, name, ps_args):
    """Display the running processes of a container."""
    with client_from(ctx) as client:
        titles, rows = client.container_top(name, ps_args)
    sys.stdout.write(tabulate([titles, *rows], minwidth=20))


@click.command("pause")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def pause(ctx, names):
    """Pause all processes within one or more containers."""
    _each(ctx, names, lambda client, name: client.pause_container(name))


@click.command("unpause")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def unpause(ctx, names):
    """Unpause all processes within one or more containers."""
    _each(ctx, names, lambda client, name: client.unpause_container(name))


@click.command("rename")
@click.argument("name")
@click.argument("new_name")
@click.pass_context
def rename(ctx, name, new_name):
    """Rename a container."""
    from lamina.errors import LaminaError

    with client_from(ctx) as client:
        try:
            client.rename_container(name, new_name)
        except LaminaError as exc:
            exc.exit_code = 1
            raise


@click.command("diff")
@click.argument("name")
@click.pass_context
def diff(ctx, name):
    """Inspect changes to files or directories on a container's filesystem."""
    from lamina.errors import LaminaError

    try:
        with client_from(ctx) as client:
            changes = client.container_changes(name)
    except LaminaError as exc:
        exc.exit_code = 1
        raise
    sys.stdout.write("".join(f"{kind} {path}\n" for kind, path in changes))


@click.command("attach")
@click.argument("name")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN (lamina attaches output only)")
@click.option("--sig-proxy", type=click.BOOL, default=True, help="Proxy all received signals to the process")
@click.pass_context
def attach(ctx, name, no_stdin, sig_proxy):
    """Attach to a running container's output; exits with its exit code."""
    import os
    import signal

    from lamina.errors import LaminaError

    outputs = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}
    try:
        with client_from(ctx) as client:
            entries = client.attach_container(name)
            pid = client.container(name).pid
            if sig_proxy and pid:
                for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
                    signal.signal(number, lambda signum, frame: os.kill(pid, signum))
            for entry in entries:
                out = outputs.get(entry.stream, sys.stdout.buffer)
                out.write(entry.text.encode("utf-8", "surrogateescape"))
                out.flush()
            code = client.wait_container(name)
    except LaminaError as exc:
        exc.exit_code = 1
        raise
    sys.exit(code)


@click.command("cp")
@click.argument("source")
@click.argument("destination")
@click.option("-a", "--archive", is_flag=True, help="Archive mode (copy all uid/gid information)")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH")
@click.option("-q", "--quiet", is_flag=True, help="Suppress progress output during copy")
@click.pass_context
def cp(ctx, source, destination, archive, follow_link, quiet):
    """Copy files/folders between a container and the local filesystem.

    Use '-' as the source to read a tar archive from stdin and extract it to a directory
    destination in a container. Use '-' as the destination to stream a tar archive of a
    container source to stdout.
    """
    from lamina.errors import LaminaError

    source_container, source_path = _split_copy_argument(source)
    target_container, target_path = _split_copy_argument(destination)
    if source_container and target_container:
        raise click.UsageError("copying between containers is not supported")
    if not source_container and not target_container:
        raise click.UsageError("must specify at least one container source")
    try:
        with client_from(ctx) as client:
            if source_container:
                sys.stdout.flush()
                target = sys.stdout.buffer if target_path == "-" else target_path
                client.copy_from_container(source_container, source_path, target, follow_link=follow_link)
            else:
                origin = sys.stdin.buffer if source_path == "-" else source_path
                client.copy_to_container(target_container, origin, target_path, archive=archive,
                                         follow_link=follow_link)
    except LaminaError as exc:
        exc.exit_code = 1
        raise


def _split_copy_argument(argument: str) -> tuple[str | None, str]:
    """docker's rule: ``NAME:PATH`` names a container unless the part before the first colon
    holds a ``/`` or the argument starts with ``/`` or ``.`` (a local path)."""
    if argument.startswith(("/", ".")) or ":" not in argument:
        return None, argument
    name, _, path = argument.partition(":")
    if "/" in name or not name:
        return None, argument
    return name, path or "/"


_STATS_HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
                  "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
                  "PIDs": "PIDS"}


@click.command("stats")
@click.argument("names", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)")
@click.option("--no-stream", is_flag=True, help="Disable streaming stats and only pull the first result")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
@click.option("--format", "format_", help="Pretty-print images using a Go template")
@click.pass_context
def stats(ctx, names, all_, no_stream, no_trunc, format_):
    """Display a live stream of container(s) resource usage statistics."""
    from lamina.cli.output import TemplateRow, bytes_size, human_size

    while True:
        with client_from(ctx) as client:
            readings = client.container_stats(names, all=all_)
        rows = []
        for before, now in readings:
            rows.append(TemplateRow(
                Container=names[len(rows)] if names else now.container_id[:12],
                ID=now.container_id if no_trunc else now.container_id[:12], Name=now.name,
                CPUPerc=f"{now.cpu_percent(before):.2f}%",
                MemUsage=f"{bytes_size(now.memory_usage)} / {bytes_size(now.memory_limit)}",
                MemPerc=f"{now.memory_percent:.2f}%",
                NetIO=f"{human_size(now.network_rx)} / {human_size(now.network_tx)}",
                BlockIO=f"{human_size(now.block_read)} / {human_size(now.block_write)}", PIDs=str(now.pids)))
        if not no_stream and sys.stdout.isatty():
            sys.stdout.write("\033[2J\033[H")
        if format_ and format_ != "table":
            print_formatted(rows, format_, _STATS_HEADERS)
        else:
            table = [["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]]
            table += [[r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs] for r in rows]
            sys.stdout.write(tabulate(table))
        sys.stdout.flush()
        if no_stream:
            return


@click.group("container")
def container_group():
    """Manage containers."""


for _command, _names in ((run, ["run"]), (create, ["create"]), (start, ["start"]), (stop, ["stop"]),
                         (restart, ["restart"]), (kill, ["kill"]), (wait, ["wait"]), (rm, ["rm", "remove"]),
                         (ps, ["ls", "ps", "list"]), (logs, ["logs"]), (exec_, ["exec"]), (export, ["export"]),
                         (commit, ["commit"]), (inspect, ["inspect"]), (prune, ["prune"]), (port, ["port"]),
                         (top, ["top"]), (pause, ["pause"]), (unpause, ["unpause"]), (rename, ["rename"]),
                         (stats, ["stats"]), (cp, ["cp"]), (attach, ["attach"]),
                         (diff, ["diff"])):
    for _name in _names:
        container_group.add_command(_command, _name)


# -- helpers -------------------------------------------------------------------------------


def _each(ctx, names, action, *, echo_result: bool = False, missing_is_fine: bool = False) -> None:
    """Run ``action`` per name like docker: print the name (or result), report failures, exit 1."""
    from lamina import ContainerNotFoundError
    from lamina.errors import LaminaError

    failed = False
    with client_from(ctx) as client:
        for name in names:
            try:
                result = action(client, name)
            except LaminaError as exc:
                failed = failed or not (missing_is_fine and isinstance(exc, ContainerNotFoundError))
                sys.stderr.write(f"lamina: error: {exc}\n")
                continue
            sys.stdout.write(f"{result if echo_result else name}\n")
            sys.stdout.flush()
    if failed:
        sys.exit(1)


def _status(container) -> str:
    from lamina.runtime.status import status_text

    return status_text(container)


def _port_map(container) -> dict:
    ports: dict = dict.fromkeys(container.config.get("ExposedPorts") or {})
    for container_port, protocol, host_ip, host_port in container.document.get("Ports") or []:
        key = f"{container_port}/{protocol}"
        ports[key] = [*(ports.get(key) or []), {"HostIp": host_ip, "HostPort": str(host_port)}]
    return ports


def _image_labels(client, containers) -> dict[str, str]:
    """docker shows the image as it was named, or the short ID once that name moved on."""
    from lamina.errors import LaminaError

    resolved: dict[str, str | None] = {}
    labels = {}
    for container in containers:
        name = container.image
        if name not in resolved:
            try:
                resolved[name] = client.store.resolve(name)
            except LaminaError:
                resolved[name] = None
        if name.startswith("sha256:") and len(name) == 71:
            labels[container.id] = container.image_id.removeprefix("sha256:")[:12]
        elif resolved[name] == container.image_id:
            labels[container.id] = name
        else:
            labels[container.id] = container.image_id.removeprefix("sha256:")[:12]
    return labels


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
