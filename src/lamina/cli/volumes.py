"""``lamina volume create/ls/inspect/rm/prune`` — docker's volume verbs and output."""

from __future__ import annotations

import sys

import click

from lamina.cli.main import client_from
from lamina.cli.output import TemplateRow, confirm_or_abort, human_size, inspect_documents, print_formatted


@click.group("volume")
def volume_group():
    """Manage volumes."""


@volume_group.command("create")
@click.argument("name", required=False)
@click.option("--name", "name_flag", help="Specify volume name")
@click.option("-d", "--driver", default="local", show_default=True, help="Specify volume driver name")
@click.option("--label", "labels", multiple=True, help="Set metadata for a volume")
@click.option("-o", "--opt", "options", multiple=True, help="Set driver specific options")
@click.pass_context
def create(ctx, name, name_flag, driver, labels, options):
    """Create a volume."""
    from lamina.runtime.volumestore import parse_key_values

    if name and name_flag and name != name_flag:
        raise click.UsageError("conflicting options: either specify --name or provide positional arg, not both")
    with client_from(ctx) as client:
        created = client.create_volume(name or name_flag, driver=driver, labels=parse_key_values(list(labels), "label"),
                                       options=parse_key_values(list(options), "option"))
    sys.stdout.write(created + "\n")


@volume_group.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names")
@click.option("-f", "--filter", "filters", multiple=True, help="Provide filter values (e.g. 'dangling=true')")
@click.option("--format", "format_", help="Pretty-print volumes using a Go template")
@click.pass_context
def ls(ctx, quiet, filters, format_):
    """List volumes."""
    wanted = _parse_filters(filters)
    with client_from(ctx) as client:
        volumes = [v for v in client.volumes() if _accepts(v, wanted)]
    if quiet:
        sys.stdout.write("".join(v.name + "\n" for v in volumes))
        return
    rows = [TemplateRow(Driver="local", Name=v.name, Mountpoint=str(v.mountpoint), Scope="local",
                        Labels=",".join(f"{k}={val}" for k, val in sorted(v.labels.items())),
                        Links=str(len(v.users)), Size=human_size(0)) for v in volumes]
    print_formatted(rows, format_ or "table {{.Driver}}\t{{.Name}}",
                    {"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE",
                     "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"})


@volume_group.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", help="Format output using a Go template")
@click.pass_context
def inspect(ctx, names, format_):
    """Display detailed information on one or more volumes."""
    with client_from(ctx) as client:
        ok = inspect_documents(client.inspect_volume, names, format_)
    if not ok:
        sys.exit(1)


@volume_group.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of one or more volumes")
@click.pass_context
def rm(ctx, names, force):
    """Remove one or more volumes; a volume in use by a container is refused."""
    from lamina.errors import LaminaError

    failed = False
    with client_from(ctx) as client:
        for name in names:
            try:
                client.remove_volume(name, force=force)
            except LaminaError as exc:
                failed = True
                sys.stderr.write(f"lamina: error: {exc}\n")
                continue
            sys.stdout.write(name + "\n")
    if failed:
        sys.exit(1)


@volume_group.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused volumes, not just anonymous ones")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<label>')")
@click.pass_context
def prune(ctx, all_, force, filters):
    """Remove unused local volumes (anonymous ones unless --all)."""
    labels = []
    for spec in filters:
        key, _, value = spec.partition("=")
        if key == "all":
            all_ = all_ or value.lower() in ("1", "true")
        elif key in ("label", "label!"):
            labels.append(("!" if key == "label!" else "") + value)
        else:
            raise click.UsageError(f"invalid filter '{key}'")
    warning = ("WARNING! This will remove all local volumes not used by at least one container."
               if all_ else "WARNING! This will remove anonymous local volumes not used by at least one container.")
    if not force and not confirm_or_abort(warning):
        return
    with client_from(ctx) as client:
        removed, freed = client.prune_volumes(all=all_, labels=labels)
    if removed:
        sys.stdout.write("Deleted Volumes:\n" + "".join(name + "\n" for name in removed) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(freed)}\n")


def _parse_filters(filters) -> list[tuple[str, str]]:
    parsed = []
    for spec in filters:
        key, sep, value = spec.partition("=")
        if not sep or key not in ("dangling", "name", "label", "driver"):
            raise click.UsageError(f"invalid filter '{spec}'")
        parsed.append((key, value))
    return parsed


def _accepts(volume, filters: list[tuple[str, str]]) -> bool:
    """docker's rule: values of one key are alternatives, different keys must all match."""
    by_key: dict[str, list[str]] = {}
    for key, value in filters:
        by_key.setdefault(key, []).append(value)
    for key, values in by_key.items():
        if key == "dangling":
            wanted = [v.lower() in ("1", "true") for v in values]
            if (not volume.users) not in wanted:
                return False
        elif key == "name":
            if not any(v in volume.name for v in values):
                return False
        elif key == "driver":
            if "local" not in values:
                return False
        elif key == "label":
            def has(spec: str) -> bool:
                name, sep, value = spec.partition("=")
                return name in volume.labels and (not sep or volume.labels[name] == value)
            if not all(has(v) for v in values):
                return False
    return True
