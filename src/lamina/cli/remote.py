"""``lamina context …`` (docker's contexts) and ``lamina image scp`` (podman's)."""

from __future__ import annotations

import json
import sys

import click

from lamina.cli.main import client_from


@click.group("context")
def context_group():
    """Manage contexts (other hosts reached over ssh)."""


@context_group.command("create")
@click.argument("name")
@click.option("--docker", "endpoint", metavar="host=ssh://[USER@]HOST[:PORT]",
              help="Where the context's commands run (docker's flag shape: host=…)")
@click.option("--description", default="", help="Description of the context")
def context_create(name, endpoint, description):
    """Create a context."""
    from lamina.remote.contexts import create_context

    host = None
    if endpoint:
        fields = dict(part.partition("=")[::2] for part in endpoint.split(",") if part)
        unknown = sorted(set(fields) - {"host"})
        if unknown:
            raise click.UsageError(f"unrecognized config key: {unknown[0]}")
        host = fields.get("host") or None
    create_context(name, host, description)
    sys.stdout.write(f"{name}\nSuccessfully created context \"{name}\"\n")


@context_group.command("use")
@click.argument("name")
def context_use(name):
    """Set the current lamina context."""
    from lamina.remote.contexts import use_context

    use_context(name)
    sys.stdout.write(f"{name}\nCurrent context is now \"{name}\"\n")


@context_group.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only show context names")
@click.option("--format", "format_", help="Format the output: table (default), json")
def context_ls(quiet, format_):
    """List contexts."""
    import os

    from lamina.remote.contexts import current_name, list_contexts

    current = os.environ.get("LAMINA_CONTEXT") or current_name()
    contexts = list_contexts()
    if quiet:
        sys.stdout.write("".join(f"{context.name}\n" for context in contexts))
        return
    rows = [{"Name": context.name, "Description": context.description, "Current": context.name == current,
             "DockerEndpoint": context.host or "local store"} for context in contexts]
    if format_ == "json":
        sys.stdout.write("".join(json.dumps(row) + "\n" for row in rows))
        return
    if format_ not in (None, "table"):
        raise click.UsageError("--format: only 'table' and 'json' are supported")
    table = [("NAME", "DESCRIPTION", "DOCKER ENDPOINT")]
    table += [(row["Name"] + (" *" if row["Current"] else ""), row["Description"], row["DockerEndpoint"]) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    for row in table:
        sys.stdout.write(f"{row[0].ljust(widths[0])}   {row[1].ljust(widths[1])}   {row[2]}".rstrip() + "\n")


context_group.add_command(context_ls, "list")


@context_group.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of a context in use")
def context_rm(names, force):
    """Remove one or more contexts."""
    from lamina.remote.contexts import remove_context

    for name in names:
        remove_context(name, force=force)
        sys.stdout.write(f"{name}\n")


context_group.add_command(context_rm, "remove")


@context_group.command("inspect")
@click.argument("names", nargs=-1)
def context_inspect(names):
    """Display detailed information on one or more contexts (the current one by default)."""
    from lamina.remote.contexts import current_name, get_context

    documents = []
    for name in names or (current_name(),):
        context = get_context(name)
        documents.append({"Name": context.name, "Metadata": {"Description": context.description},
                          "Endpoints": {"docker": {"Host": context.host or ""}}})
    sys.stdout.write(json.dumps(documents, indent=4) + "\n")


@context_group.command("show")
def context_show():
    """Print the name of the current context."""
    import os

    from lamina.remote.contexts import current_name

    sys.stdout.write((os.environ.get("LAMINA_CONTEXT") or current_name()) + "\n")


@click.command("scp")
@click.argument("source", required=False)
@click.argument("destination", required=False)
@click.option("-q", "--quiet", is_flag=True, help="Suppress the output")
@click.option("--serve", is_flag=True,
              help="The receiving side, on stdin/stdout (what image scp runs over ssh on the other host)")
@click.option("--serve-source", metavar="IMAGE",
              help="The sending side, on stdin/stdout (what image scp HOST::IMAGE runs over ssh on the other host)")
@click.pass_context
def image_scp(ctx, source, destination, quiet, serve, serve_source):
    """Copy an image between this host and another over ssh: SOURCE [USER@]HOST::[IMAGE], or
    [USER@]HOST::IMAGE [NAME] to bring one here.

    Only the layers the receiving store lacks are sent."""
    if serve:
        _serve(ctx)
        return
    if serve_source:
        from lamina.remote.scp import serve_source as send_from_here

        with client_from(ctx) as client:
            send_from_here(client.store, serve_source, sys.stdin.buffer, sys.stdout.buffer)
        return
    if not source:
        raise click.BadArgumentUsage("requires SOURCE and [USER@]HOST::[IMAGE]")
    from lamina.remote.scp import fetch_image, parse_destination, send_image

    with client_from(ctx) as client:
        if "::" in source:  # from the other host into this store
            if destination and "::" in destination:
                raise click.UsageError("copying between two other hosts is not supported: one side must be this host")
            sent = fetch_image(client.store, parse_destination(source), destination or "")
        else:
            if not destination:
                raise click.BadArgumentUsage("requires SOURCE and [USER@]HOST::[IMAGE]")
            sent = send_image(client.store, source, parse_destination(destination))
    if not quiet:
        from lamina.cli.output import human_size

        sys.stdout.write(f"Copied {sent.layers_sent} layer(s) ({human_size(sent.bytes_sent)}), "
                         f"{sent.layers_skipped} already present\n")
        sys.stdout.write(f"Loaded image: {sent.reference}\n" if sent.reference else f"Loaded image ID: {sent.image_id}\n")


def _serve(ctx: click.Context) -> None:
    """The other host's side of ``image scp``: which layers are here, then load the stream."""
    from lamina.remote.scp import serve

    with client_from(ctx) as client:
        loaded = serve(client.store, sys.stdin.buffer, sys.stdout.buffer)
    first = loaded[0]
    sys.stdout.write(json.dumps({"Id": first.image_id, "Tags": first.tags}) + "\n")
