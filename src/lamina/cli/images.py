"""Image commands: images/image ls, tag, rmi, inspect, history, image prune. Formatting only."""

from __future__ import annotations

import sys

import click

from lamina.cli.main import LazyGroup, client_from
from lamina.cli.output import (
    TemplateRow,
    confirm_or_abort,
    go_time,
    human_size,
    inspect_documents,
    print_formatted,
    rfc3339_seconds,
    since,
    tabulate,
)
from lamina.oci.digest import short_id


class _GoBool(click.ParamType):
    """A bool flag value as pflag accepts it, including the ``-H=false`` spelling."""

    name = "bool"

    def convert(self, value, param, ctx):
        if isinstance(value, bool):
            return value
        text = str(value).lstrip("=").lower()
        if text in ("1", "t", "true", "yes", "y", "on"):
            return True
        if text in ("0", "f", "false", "no", "n", "off"):
            return False
        self.fail(f"invalid boolean value {value!r}", param, ctx)


GO_BOOL = _GoBool()

_IMAGE_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
                  "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
                  "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE",
                  "UniqueSize": "UNIQUE SIZE"}


class _ImageRow:
    """The fields docker's image formatter offers to ``--format`` templates."""

    def __init__(self, summary, no_trunc: bool):
        self.ID = summary.id if no_trunc else short_id(summary.id)
        self.Repository = summary.repository
        self.Tag = summary.tag
        self.Digest = summary.digest
        self.CreatedSince = since(summary.created_ts)
        self.CreatedAt = go_time(summary.created_ts)
        self.Size = human_size(summary.size)
        self.VirtualSize = self.Size
        self.SharedSize = "N/A"
        self.UniqueSize = "N/A"
        self.Containers = "N/A"

    def template_fields(self) -> dict:
        return {k: getattr(self, k) for k in sorted(_IMAGE_HEADERS)}


@click.command("images")
@click.argument("reference", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all images (default hides intermediate images)")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "format_", help="Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')")
@click.pass_context
def images(ctx, reference, all_, quiet, digests, no_trunc, filters, format_):
    """List images."""
    with client_from(ctx) as client:
        summaries = client.images(reference, all=all_, filters=filters)
    rows = [_ImageRow(s, no_trunc) for s in summaries]
    if quiet:  # one line per row, like docker (an image with two tags prints twice)
        sys.stdout.write("".join(row.ID + "\n" for row in rows))
        return
    if format_ and format_ != "table":
        print_formatted(rows, format_, _IMAGE_HEADERS)
        return
    header = ["REPOSITORY", "TAG"] + (["DIGEST"] if digests else []) + ["IMAGE ID", "CREATED", "SIZE"]
    table = [header]
    for row in rows:
        table.append([row.Repository, row.Tag] + ([row.Digest] if digests else [])
                     + [row.ID, row.CreatedSince, row.Size])
    sys.stdout.write(tabulate(table))


@click.command("tag")
@click.argument("source")
@click.argument("target")
@click.pass_context
def tag(ctx, source, target):
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    with client_from(ctx) as client:
        client.tag(source, target)


@click.command("rmi")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents")
@click.pass_context
def rmi(ctx, names, force, no_prune):
    """Remove one or more images."""
    from lamina.errors import LaminaError

    failed = False
    with client_from(ctx) as client:
        for result in client.remove_images(names, force=force, prune=not no_prune):
            if isinstance(result, LaminaError):
                failed = True
                sys.stderr.write(f"lamina: error: {result}\n")
                continue
            for name in result.untagged:
                sys.stdout.write(f"Untagged: {name}\n")
            for digest in result.deleted:
                sys.stdout.write(f"Deleted: {digest}\n")
    if failed:
        sys.exit(1)


@click.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", help="Format output using a custom template")
@click.option("--type", "type_", type=click.Choice(["image", "container"]), default=None,
              help="Return JSON for specified type")
@click.pass_context
def inspect(ctx, names, format_, type_):
    """Return low-level information on images or containers."""
    with client_from(ctx) as client:
        ok = inspect_documents(lambda name: _inspect_one(client, name, type_), names, format_)
    if not ok:
        sys.exit(1)


@click.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", help="Format output using a custom template")
@click.pass_context
def image_inspect(ctx, names, format_):
    """Display detailed information on one or more images."""
    ctx.invoke(inspect, names=names, format_=format_, type_="image")


def _inspect_one(client, name: str, type_: str | None) -> dict:
    """Like docker: a container of that name or ID first, then an image (``--type`` picks one)."""
    from lamina.errors import ImageNotFoundError
    from lamina.runtime.containers import ContainerNotFoundError

    if type_ == "container":
        return client.inspect_container(name)
    if type_ == "image":
        return client.inspect_image(name)
    try:
        return client.inspect_container(name)
    except ContainerNotFoundError:
        pass
    try:
        return client.inspect_image(name)
    except ImageNotFoundError:
        raise ImageNotFoundError(f"No such object: {name}") from None  # docker's word for neither


@click.command("history")
@click.argument("name")
@click.option("-H", "--human", type=GO_BOOL, default=True, show_default=True,
              help="Print sizes and dates in human readable format")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--format", "format_", help="Format output using a custom template")
@click.pass_context
def history(ctx, name, human, no_trunc, quiet, format_):
    """Show the history of an image."""
    with client_from(ctx) as client:
        entries = client.history(name)
    if quiet:
        for entry in entries:
            sys.stdout.write((entry.id if no_trunc or entry.id == "<missing>" else short_id(entry.id)) + "\n")
        return
    rows = []
    for entry in entries:
        created_by = entry.created_by.replace("\t", " ")
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append(TemplateRow(
            ID=entry.id if no_trunc or entry.id == "<missing>" else short_id(entry.id),
            CreatedSince=since(entry.created_ts) if human else rfc3339_seconds(entry.created_ts),
            CreatedAt=rfc3339_seconds(entry.created_ts), CreatedBy=created_by,
            Size=human_size(entry.size) if human else str(entry.size), Comment=entry.comment))
    headers = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
               "Size": "SIZE", "Comment": "COMMENT"}
    if format_ and format_ != "table":
        print_formatted(rows, format_, headers)
        return
    table = [["IMAGE", "CREATED" if human else "CREATED AT", "CREATED BY", "SIZE", "COMMENT"]]
    table += [[r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment] for r in rows]
    sys.stdout.write(tabulate(table))


@click.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused images, not just dangling ones")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'until=<timestamp>')")
@click.pass_context
def prune(ctx, all_, force, filters):
    """Remove unused images."""
    if not force:
        warning = ("WARNING! This will remove all images without at least one container associated to them."
                   if all_ else "WARNING! This will remove all dangling images.")
        if not confirm_or_abort(warning):
            return
    with client_from(ctx) as client:
        report = client.prune_images(all=all_, filters=filters)
    if report.untagged or report.deleted:
        sys.stdout.write("Deleted Images:\n")
        for name in report.untagged:
            sys.stdout.write(f"untagged: {name}\n")
        for digest in report.deleted:
            sys.stdout.write(f"deleted: {digest}\n")
        sys.stdout.write("\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(report.space_reclaimed)}\n")


@click.group("image", cls=LazyGroup, lazy={
    "build": "lamina.cli.build:build", "pull": "lamina.cli.registry:pull", "push": "lamina.cli.registry:push",
    "save": "lamina.cli.archives:save", "load": "lamina.cli.archives:load", "import": "lamina.cli.archives:import_",
    "diff": "lamina.cli.analyze:image_diff", "squash": "lamina.cli.analyze:image_squash",
    "scp": "lamina.cli.remote:image_scp"})
def image_group():
    """Manage images."""


image_group.add_command(images, "ls")
image_group.add_command(images, "list")
image_group.add_command(tag, "tag")
image_group.add_command(rmi, "rm")
image_group.add_command(rmi, "remove")
image_group.add_command(image_inspect, "inspect")
image_group.add_command(history, "history")
image_group.add_command(prune, "prune")

