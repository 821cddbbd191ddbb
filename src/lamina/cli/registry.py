"""Registry commands: pull, push, login, logout, search, manifest inspect."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from lamina.cli.main import client_from
from lamina.cli.output import TemplateRow, print_formatted, tabulate
from lamina.cli.progress import PlainProgress, progress_for


@click.command("pull")
@click.argument("name")
@click.option("-a", "--all-tags", is_flag=True, help="Download all tagged images in the repository")
@click.option("--platform", help="Set platform if server is multi-platform capable")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.option("--policy", type=click.Path(dir_okay=False), help="containers-policy.json to check signatures with")
@click.pass_context
def pull(ctx, name, all_tags, platform, quiet, policy):
    """Download an image from a registry."""
    progress = progress_for(quiet)
    with client_from(ctx) as client, _closing(progress):
        for result, header in client.iter_pull(name, all_tags=all_tags, platform=platform, events=progress,
                                          announce=(lambda text: None) if quiet else _announce, policy=policy):
            progress.close()
            if quiet:
                sys.stdout.write(str(result.reference) + "\n")
                continue
            sys.stdout.write(f"Digest: {result.digest}\n")
            status = ("Downloaded newer image for " if header else "Image is up to date for ") + result.reference.familiar
            sys.stdout.write(f"Status: {status}\n{result.reference}\n")


@contextlib.contextmanager
def _closing(progress):
    try:
        yield progress
    finally:
        progress.close()


def _announce(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@click.command("push")
@click.argument("name")
@click.option("-a", "--all-tags", is_flag=True, help="Push all tags of an image to the repository")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.option("--compression", type=click.Choice(["gzip", "zstd", "estargz", "none"]), default="gzip",
              show_default=True, help="Compression of the pushed layers (estargz: gzip that stargz-snapshotter "
                                      "can lazy-pull; it has its own diffIDs, so its own image config)")
@click.option("--compression-level", "compression_level", type=int,
              help="Level where a layer is compressed (gzip 0-9, zstd 1-22)")
@click.option("--force-compression", "force_compression", is_flag=True,
              help="Recompress layers stored in another compression (else they are pushed as stored)")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, exists=True),
              help="Policy-check rules (YAML) the image must pass before it is pushed")
@click.option("--sign-by", "sign_key", type=click.Path(dir_okay=False, exists=True),
              help="Sign each pushed image with this cosign key (COSIGN_PASSWORD or a prompt)")
@click.pass_context
def push(ctx, name, all_tags, quiet, compression, compression_level, force_compression, policy_file, sign_key):
    """Upload an image to a registry."""
    from lamina.cli.sign import push_guard

    signer = push_guard(name, policy_file, sign_key, (ctx.find_root().obj or {}).get("root"))
    progress = progress_for(quiet)
    with client_from(ctx) as client, _closing(progress):
        for result in client.iter_push(name, all_tags=all_tags, compression=compression, events=progress,
                                       announce=(lambda text: None) if quiet else _announce,
                                       compression_level=compression_level, force_compression=force_compression):
            progress.close()
            tag = result.reference.tag or "latest"
            if quiet:
                sys.stdout.write(f"{result.reference.familiar}\n")
            else:
                sys.stdout.write(f"{tag}: digest: {result.digest} size: {result.size}\n")
            signer(result.reference, result.digest)


@click.command("login")
@click.argument("server", required=False)
@click.option("-u", "--username")
@click.option("-p", "--password")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin")
@click.pass_context
def login(ctx, server, username, password, password_stdin):
    """Log in to a registry (credentials are stored where docker keeps them)."""
    from lamina.errors import UsageError

    if password and password_stdin:
        raise UsageError("--password and --password-stdin are mutually exclusive")
    if password_stdin:
        if not username:
            raise UsageError("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if not username:
        username = click.prompt("Username")
    if not password:
        password = click.prompt("Password", hide_input=True)
    with client_from(ctx) as client:
        message = client.login(server or "docker.io", username, password)
    sys.stdout.write(message + "\n")


@click.command("logout")
@click.argument("server", required=False)
@click.pass_context
def logout(ctx, server):
    """Log out from a registry."""
    with client_from(ctx) as client:
        sys.stdout.write(client.logout(server or "docker.io") + "\n")


@click.command("search")
@click.argument("term")
@click.option("--limit", type=int, default=25, show_default=True, help="Max number of search results")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("--format", "format_", help="Pretty-print search using a Go template")
@click.option("--registry", help="Registry to search (default: docker.io, or the host named in TERM)")
@click.pass_context
def search(ctx, term, limit, filters, no_trunc, format_, registry):
    """Search a registry for images."""
    with client_from(ctx) as client:
        results = client.search(term, limit=limit, filters=filters, registry=registry)
    rows = []
    for item in results:
        description = item.description
        if not no_trunc and len(description) > 45:
            description = description[:44] + "…"
        rows.append(TemplateRow(Name=item.name, Description=description, StarCount=str(item.stars),
                         IsOfficial="[OK]" if item.official else "", IsAutomated="[OK]" if item.automated else ""))
    headers = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL",
               "IsAutomated": "AUTOMATED"}
    if format_:
        print_formatted(rows, format_, headers)
        return
    table = [["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]]
    table += [[r.Name, r.Description, r.StarCount, r.IsOfficial] for r in rows]
    sys.stdout.write(tabulate(table))


@click.group("manifest")
def manifest_group():
    """Inspect manifests in a registry."""


@manifest_group.command("inspect")
@click.argument("name")
@click.option("-v", "--verbose", is_flag=True, help="Output additional info")
@click.pass_context
def manifest_inspect(ctx, name, verbose):
    """Display an image manifest or manifest list as the registry serves it."""
    with client_from(ctx) as client:
        manifest = client.manifest_inspect(name)
    document = json.loads(manifest.data)
    if verbose:
        document = {"Ref": name, "Descriptor": {"mediaType": manifest.media_type, "digest": manifest.digest,
                                                 "size": len(manifest.data)}, "Raw": document}
    sys.stdout.write(json.dumps(document, indent=4) + "\n")


@click.command("copy")
@click.argument("source")
@click.argument("destination")
@click.option("-a", "--all", "all_platforms", is_flag=True,
              help="Copy every platform of a multi-platform image (registry to registry)")
@click.option("--platform", help="Platform to copy from a multi-platform source (default: this machine's)")
@click.pass_context
def copy(ctx, source, destination, all_platforms, platform):
    """Copy an image between registries, archives, OCI layouts and the store.

    SOURCE and DESTINATION are image specs: docker-archive:PATH[:REF], oci-archive:PATH[:REF],
    oci:DIR[:REF], store:REF, docker://REF or a plain name (a source: the store's image, else the
    registry's; a destination: a registry). Registry to registry copies without unpacking.
    """
    with client_from(ctx) as client:
        digest = client.copy(source, destination, all_platforms=all_platforms, platform=platform,
                             events=PlainProgress(False))
    from lamina.security.signing.archive import copy_archive_attachments

    copy_archive_attachments(source, destination, digest)  # an archive's signatures go to the registry too
    what = "image ID" if destination.startswith("store:") else "digest"  # the store keeps no manifest
    sys.stdout.write(f"Copied {source} to {destination}: {what}: {digest}\n")
