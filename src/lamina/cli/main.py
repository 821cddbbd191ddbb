"""The ``lamina`` command: a click group whose subcommands load on first use (fast ``--help``)."""

from __future__ import annotations

import importlib
import os
import sys

import click

# command name → "module:attribute"; modules import only when the command runs.
COMMANDS = {
    "images": "lamina.cli.images:images",
    "image": "lamina.cli.images:image_group",
    "tag": "lamina.cli.images:tag",
    "rmi": "lamina.cli.images:rmi",
    "inspect": "lamina.cli.images:inspect",
    "history": "lamina.cli.images:history",
    "import": "lamina.cli.archives:import_",
    "save": "lamina.cli.archives:save",
    "load": "lamina.cli.archives:load",
    "fsck": "lamina.cli.system:fsck",
    "system": "lamina.cli.system:system_group",
    "builder": "lamina.cli.system:builder_group",
    "pull": "lamina.cli.registry:pull",
    "push": "lamina.cli.registry:push",
    "login": "lamina.cli.registry:login",
    "logout": "lamina.cli.registry:logout",
    "search": "lamina.cli.registry:search",
    "manifest": "lamina.cli.manifest:manifest_group",
    "copy": "lamina.cli.registry:copy",
    "build": "lamina.cli.build:build",
    "run": "lamina.cli.containers:run",
    "create": "lamina.cli.containers:create",
    "start": "lamina.cli.containers:start",
    "stop": "lamina.cli.containers:stop",
    "restart": "lamina.cli.containers:restart",
    "kill": "lamina.cli.containers:kill",
    "wait": "lamina.cli.containers:wait",
    "rm": "lamina.cli.containers:rm",
    "ps": "lamina.cli.containers:ps",
    "logs": "lamina.cli.containers:logs",
    "exec": "lamina.cli.containers:exec_",
    "export": "lamina.cli.containers:export",
    "commit": "lamina.cli.containers:commit",
    "container": "lamina.cli.containers:container_group",
    "port": "lamina.cli.containers:port",
    "top": "lamina.cli.containers:top",
    "pause": "lamina.cli.containers:pause",
    "unpause": "lamina.cli.containers:unpause",
    "rename": "lamina.cli.containers:rename",
    "stats": "lamina.cli.containers:stats",
    "cp": "lamina.cli.containers:cp",
    "attach": "lamina.cli.containers:attach",
    "diff": "lamina.cli.containers:diff",
    "volume": "lamina.cli.volumes:volume_group",
    "info": "lamina.cli.system:info",
    "version": "lamina.cli.system:version",
    "sbom": "lamina.cli.sbom:sbom",
    "analyze": "lamina.cli.analyze:analyze",
    "lint": "lamina.cli.lint:lint",
    "scan": "lamina.cli.scan:scan",
    "db": "lamina.cli.vulndb:db_group",
    "generate-key-pair": "lamina.cli.sign:generate_key_pair",
    "sign": "lamina.cli.sign:sign",
    "verify": "lamina.cli.sign:verify",
    "attest": "lamina.cli.sign:attest",
    "verify-attestation": "lamina.cli.sign:verify_attestation",
    "policy": "lamina.cli.sign:policy_group",
    "context": "lamina.cli.remote:context_group",
}
HELP = {
    "images": "List images",
    "image": "Manage images",
    "tag": "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    "rmi": "Remove one or more images",
    "inspect": "Return low-level information on images or containers",
    "history": "Show the history of an image",
    "import": "Import the contents from a tarball to create a filesystem image",
    "save": "Save one or more images to a tar archive (streamed to STDOUT by default)",
    "load": "Load an image from a tar archive or STDIN",
    "fsck": "Verify every blob and metadata row of the store",
    "system": "Manage lamina (disk usage, prune, info)",
    "volume": "Manage volumes",
    "info": "Display system-wide information",
    "version": "Show the lamina version information",
    "builder": "Manage the build cache",
    "pull": "Download an image from a registry",
    "push": "Upload an image to a registry",
    "login": "Log in to a registry",
    "logout": "Log out from a registry",
    "search": "Search a registry for images",
    "manifest": "Manage manifest lists (multi-platform images)",
    "copy": "Copy an image between registries without unpacking it",
    "build": "Build an image from a Dockerfile",
    "run": "Create and run a new container from an image",
    "create": "Create a new container",
    "start": "Start one or more stopped containers",
    "stop": "Stop one or more running containers",
    "restart": "Restart one or more containers",
    "kill": "Kill one or more running containers",
    "wait": "Block until one or more containers stop, then print their exit codes",
    "rm": "Remove one or more containers",
    "ps": "List containers",
    "logs": "Fetch the logs of a container",
    "exec": "Execute a command in a running container",
    "export": "Export a container's filesystem as a tar archive",
    "commit": "Create a new image from a container's changes",
    "container": "Manage containers",
    "port": "List port mappings or a specific mapping for the container",
    "top": "Display the running processes of a container",
    "pause": "Pause all processes within one or more containers",
    "unpause": "Unpause all processes within one or more containers",
    "rename": "Rename a container",
    "stats": "Display a live stream of container(s) resource usage statistics",
    "cp": "Copy files/folders between a container and the local filesystem",
    "attach": "Attach to a running container's output",
    "diff": "Inspect changes to files or directories on a container's filesystem",
    "sbom": "Generate a software bill of materials (SBOM) for an image",
    "analyze": "Show each layer's changes, the image's efficiency and wasted space (dive's numbers)",
    "lint": "Check Dockerfiles for mistakes and bad practice (hadolint's rules)",
    "scan": "Scan an image for vulnerabilities, secrets and misconfigurations",
    "db": "Manage the local vulnerability database",
    "generate-key-pair": "Generate a cosign key pair (encrypted private key and public key)",
    "sign": "Sign an image in its registry (cosign format)",
    "verify": "Verify an image's cosign signatures",
    "attest": "Attach a signed in-toto attestation (SBOM, provenance) to an image",
    "verify-attestation": "Verify an image's signed attestations",
    "policy": "Check images against organizational policies (YAML rules)",
    "context": "Manage contexts (other hosts reached over ssh)",
}


class LazyGroup(click.Group):
    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module_name, attribute = self.lazy[name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = None if name in self.lazy else super().get_command(ctx, name)
            rows.append((name, command.get_short_help_str(60) if command else HELP.get(name, "")))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``-v``/``--version``: docker's one-line shape (``lamina version X, build COMMIT``)."""
    if not value or ctx.resilient_parsing:
        return
    from lamina.cli.versionflag import version_line

    click.echo(version_line())
    ctx.exit()


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, envvar="LAMINA_DEBUG", help="Show tracebacks for errors.")
@click.option("--root", envvar="LAMINA_ROOT", type=click.Path(file_okay=False), help="Store root (LAMINA_ROOT).")
@click.option("-H", "--host", "host", metavar="ssh://[USER@]HOST[:PORT]", expose_value=False,
              help="Run the command on another host over ssh (LAMINA_HOST)")
@click.option("-c", "--context", "context_name", metavar="NAME", expose_value=False,
              help="Name of the context to use (LAMINA_CONTEXT; see 'lamina context use')")
@click.option("-v", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print version information and quit")
@click.pass_context
def cli(ctx: click.Context, debug: bool, root: str | None) -> None:
    """lamina: a daemonless, docker-compatible container-image manager."""
    ctx.obj = {"debug": debug, "root": root}


def main() -> None:
    from lamina.cli.failures import run_guarded

    run_guarded(_click_main, "--debug" in sys.argv[1:] or bool(os.environ.get("LAMINA_DEBUG")))


def _click_main() -> None:
    """click's own failures (usage errors, Abort) as docker reports them."""
    try:
        cli.main(prog_name="lamina", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("Aborted.\n")
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        sys.stderr.write(f"lamina: error: {exc.format_message()}\n")
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            sys.stderr.write(f"See '{exc.ctx.command_path} --help'.\n")
        sys.exit(_usage_exit_code(exc))


def _usage_exit_code(exc: click.ClickException) -> int:
    """docker's CLI: a bad flag exits 125, a wrong number of arguments 1."""
    if isinstance(exc, click.BadArgumentUsage) or exc.format_message().startswith("Got unexpected extra argument") or (
            isinstance(exc, click.MissingParameter) and exc.param is not None and exc.param.param_type_name == "argument"):
        return 1
    return 125 if isinstance(exc, click.UsageError) else exc.exit_code


def client_from(ctx: click.Context):
    from lamina import Client

    root = (ctx.find_root().obj or {}).get("root")
    return Client(root=root)
