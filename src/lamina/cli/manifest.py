"""``lamina manifest``: local manifest lists (create/add/annotate/inspect/push/rm, as docker
manifest and podman manifest) and registry manifests (inspect)."""

from __future__ import annotations

import json
import sys

import click

from lamina.cli.main import client_from
from lamina.cli.registry import manifest_inspect as _registry_inspect


@click.group("manifest")
def manifest_group():
    """Manage manifest lists (multi-platform images) and inspect registry manifests."""


def _lists(client):
    from lamina.client.manifests import ManifestLists

    return ManifestLists(client)


@manifest_group.command("create")
@click.argument("name")
@click.argument("images", nargs=-1, required=True)
@click.option("-a", "--amend", is_flag=True, help="Amend an existing manifest list")
@click.pass_context
def create(ctx, name, images, amend):
    """Create a local manifest list of stored images (each platform from its image config)."""
    with client_from(ctx) as client:
        _lists(client).create(name, list(images), amend=amend)
    sys.stdout.write(f"Created manifest list {_full(name)}\n")


@manifest_group.command("add")
@click.argument("name")
@click.argument("image")
@click.option("--os", "os_", default="", help="Override the operating system")
@click.option("--arch", default="", help="Override the architecture")
@click.option("--variant", default="", help="Override the architecture variant")
@click.option("--annotation", multiple=True, help="KEY=VALUE annotation of the entry")
@click.pass_context
def add(ctx, name, image, os_, arch, variant, annotation):
    """Add a stored image to a local manifest list; prints the list's digest."""
    with client_from(ctx) as client:
        digest = _lists(client).add(name, image, os=os_, arch=arch, variant=variant,
                                    annotations=_pairs(annotation))
    sys.stdout.write(digest + "\n")


@manifest_group.command("annotate")
@click.argument("name")
@click.argument("image")
@click.option("--os", "os_", default="", help="Set operating system")
@click.option("--arch", default="", help="Set architecture")
@click.option("--variant", default="", help="Set architecture variant")
@click.option("--os-features", "os_features", default="", help="Set operating system feature (comma-separated)")
@click.option("--annotation", multiple=True, help="KEY=VALUE annotation of the entry")
@click.pass_context
def annotate(ctx, name, image, os_, arch, variant, os_features, annotation):
    """Set the platform a local manifest list states for one of its images."""
    features = [f for f in os_features.split(",") if f] or None
    with client_from(ctx) as client:
        _lists(client).annotate(name, image, os=os_, arch=arch, variant=variant, os_features=features,
                                annotations=_pairs(annotation))


@manifest_group.command("inspect")
@click.argument("name")
@click.option("-v", "--verbose", is_flag=True, help="Output additional info")
@click.pass_context
def inspect(ctx, name, verbose):
    """Display a local manifest list, else the manifest or list a registry serves."""
    from lamina.errors import LaminaError

    local = None
    with client_from(ctx) as client:
        try:
            local = _lists(client).local(name)
        except LaminaError:
            local = None
    if local is None:
        ctx.invoke(_registry_inspect, name=name, verbose=verbose)
        return
    digest, data = local
    document = json.loads(data)
    if verbose:
        document = {"Ref": _full(name), "Descriptor": {"mediaType": document.get("mediaType", ""), "digest": digest,
                                                      "size": len(data)}, "Raw": document}
    sys.stdout.write(json.dumps(document, indent=4) + "\n")


@manifest_group.command("push")
@click.argument("name")
@click.option("-p", "--purge", is_flag=True, help="Remove the local manifest list after push")
@click.pass_context
def push(ctx, name, purge):
    """Push a manifest list whole: every image in it, then the list under its tag."""
    from lamina.cli.progress import progress_for

    progress = progress_for(True)
    try:
        with client_from(ctx) as client:
            digest = _lists(client).push(name, purge=purge, events=progress)
    finally:
        progress.close()
    sys.stdout.write(digest + "\n")


@manifest_group.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm(ctx, names):
    """Delete local manifest lists (the images in them stay)."""
    with client_from(ctx) as client:
        for name in names:
            _lists(client).remove(name)


def _pairs(items) -> dict[str, str] | None:
    from lamina.errors import UsageError

    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid annotation {item!r}: want KEY=VALUE")
        pairs[key] = value
    return pairs or None


def _full(name: str) -> str:
    from lamina.oci.reference import parse_reference

    return str(parse_reference(name))
