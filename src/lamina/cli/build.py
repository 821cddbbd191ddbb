"""``lamina build``: flags as docker's, output as docker's classic builder prints it."""

from __future__ import annotations

import click


@click.command("build")
@click.argument("context")
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag in the 'name:tag' format")
@click.option("-f", "--file", "dockerfile", help="Name of the Dockerfile (Default is 'PATH/Dockerfile')")
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables")
@click.option("--target", help="Set the target build stage to build.")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--network", default="default", help="Set the networking mode for the RUN instructions during build")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print image ID on success")
@click.option("--iidfile", help="Write the image ID to the file")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image")
@click.option("--platform", help="Set platform if server is multi-platform capable")
@click.option("--secret", "secrets", multiple=True, help="Secret to expose to the build (id=ID,src=FILE)")
@click.option("--cache-from", "cache_from", multiple=True,
              help="Images to consider as cache sources (IMAGE or type=registry,ref=IMAGE)")
@click.option("--cache-to", "cache_to", multiple=True,
              help="Cache export (type=inline: accepted; every lamina image carries its cache)")
@click.option("--rm/--no-rm", default=True, hidden=True)
@click.option("--force-rm", is_flag=True, hidden=True)
@click.option("--progress", type=click.Choice(["auto", "plain", "tty", "quiet"], case_sensitive=False),
              default="auto", show_default=True,
              help="Type of progress output: plain (docker's classic builder lines), tty (a live display "
                   "with the time of each step), auto (tty when stderr is a terminal), quiet")
@click.pass_context
def build(ctx, context, tags, dockerfile, build_args, target, labels, no_cache, network, quiet, iidfile,
          pull, platform, secrets, cache_from, cache_to, rm, force_rm, progress):
    """Build an image from a Dockerfile."""
    from lamina.cli.buildrun import run_build

    cache_from = [_cache_source(spec) for spec in cache_from]
    for spec in cache_to:
        if _cache_fields(spec).get("type", "inline") != "inline":
            raise click.UsageError(f"--cache-to {spec}: only type=inline is supported")
    run_build((ctx.find_root().obj or {}).get("root"), context, tags=tags, dockerfile=dockerfile,
              build_args=build_args, target=target, labels=labels, no_cache=no_cache, network=network, quiet=quiet,
              iidfile=iidfile, pull=pull, platform=platform, secrets=secrets, cache_from=cache_from,
              progress=progress)


def _cache_fields(spec: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in spec.split(",") if "=" in part)


def _cache_source(spec: str) -> str:
    """``--cache-from``: an image name, or BuildKit's ``type=registry,ref=NAME`` form."""
    if "=" not in spec:
        return spec
    fields = _cache_fields(spec)
    if fields.get("type", "registry") not in ("registry", "image") or not fields.get("ref"):
        raise click.UsageError(f"--cache-from {spec}: use an image name or type=registry,ref=IMAGE")
    return fields["ref"]
