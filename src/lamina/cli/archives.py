"""Archive commands: import, save, load."""

from __future__ import annotations

import sys

import click

from lamina.cli.main import client_from
from lamina.errors import UsageError


@click.command("import")
@click.argument("source")
@click.argument("reference", required=False)
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Set commit message for imported image")
@click.option("--platform", help="Set platform if server is multi-platform capable")
@click.pass_context
def import_(ctx, source, reference, changes, message, platform):
    """Import the contents from a tarball to create a filesystem image."""
    with client_from(ctx) as client:
        image_id = client.import_image(source, reference, changes=changes, message=message, platform=platform)
    sys.stdout.write(image_id + "\n")


@click.command("save")
@click.argument("names", nargs=-1, required=True)
@click.option("-o", "--output", help="Write to a file, instead of STDOUT")
@click.option("--platform", help="Platform to save of a multi-platform image read from a registry")
@click.option("--compression", type=click.Choice(["gzip", "zstd", "estargz", "none"]),
              help="Compression of the saved layers of stored images (default: as stored)")
@click.option("--compression-level", "compression_level", type=int,
              help="Level where a layer is compressed (gzip 0-9, zstd 1-22)")
@click.option("--force-compression", "force_compression", is_flag=True,
              help="Recompress layers stored in another compression")
@click.pass_context
def save(ctx, names, output, platform, compression, compression_level, force_compression):
    """Save one or more images to a tar archive (streamed to STDOUT by default).

    An image the store does not have is read from its registry into the archive, without
    storing it.
    """
    from lamina.cli.output import write_archive

    with client_from(ctx) as client:
        if not (platform or compression or compression_level is not None or force_compression):
            from lamina.security.signing.archive import save_signed, stored_with_attachments

            if stored_with_attachments(client.store, names):  # signatures and attestations go along
                write_archive(output, lambda out: save_signed(client.store, names, out))
                return
        write_archive(output, lambda out: client.save(names, out, platform=platform, compression=compression,
                                                      compression_level=compression_level,
                                                      force_compression=force_compression))


@click.command("load")
@click.option("-i", "--input", "input_", help="Read from tar archive file, instead of STDIN")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output")
@click.pass_context
def load(ctx, input_, quiet):
    """Load an image from a tar archive or STDIN."""
    if not input_ and sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is empty")
    from lamina.oci.digest import short_id  # noqa: F401

    with client_from(ctx) as client:
        loaded = client.load(input_ or "-")
        if input_:
            from lamina.security.signing.archive import keep_archive_attachments

            keep_archive_attachments(client.store, input_)  # the archive's signatures and attestations
    for image in loaded:
        for name, old_id in image.replaced:
            sys.stdout.write(f"The image {name} already exists, renaming the old one with ID {old_id} to empty string\n")
        if image.tags:
            for name in image.tags:
                sys.stdout.write(f"Loaded image: {name}\n")
        else:
            sys.stdout.write(f"Loaded image ID: {image.image_id}\n")
