"""``lamina sbom IMAGE``: the package inventory of an image as CycloneDX, SPDX, a table or JSON."""

from __future__ import annotations

import sys

import click

FORMAT_CHOICES = ("cyclonedx-json", "spdx-json", "table", "json")


@click.command("sbom")
@click.argument("image")
@click.option("--format", "-f", "output_format", type=click.Choice(FORMAT_CHOICES), default="table",
              show_default=True, help="Output format")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to a file instead of stdout")
@click.option("--platform", help="Platform (os/arch[/variant]) of a multi-platform image")
@click.pass_context
def sbom(ctx: click.Context, image: str, output_format: str, output: str | None, platform: str | None) -> None:
    """Generate a software bill of materials (SBOM) for an image

    IMAGE is a stored image name or ID, docker-archive:PATH, oci-archive:PATH, oci:DIR or a
    registry reference.
    """
    from lamina.security.sbom import sbom as make_sbom

    root = (ctx.find_root().obj or {}).get("root")
    document = make_sbom(image, root=root, format=output_format, platform=platform,
                         on_warning=lambda message: click.echo(f"lamina: warning: {message}", err=True))
    if output:
        from pathlib import Path

        Path(output).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
