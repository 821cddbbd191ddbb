"""``lamina build``: flags as docker's, output as docker's classic builder prints it."""

from __future__ import annotations

import sys

import click

from lamina.cli.main import client_from


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
@click.option("--rm/--no-rm", default=True, hidden=True)
@click.option("--force-rm", is_flag=True, hidden=True)
@click.option("--progress", hidden=True)
@click.pass_context
def build(ctx, context, tags, dockerfile, build_args, target, labels, no_cache, network, quiet, iidfile,
          pull, platform, secrets, rm, force_rm, progress):
    """Build an image from a Dockerfile."""
    import signal

    # A build holds mounts and temp dirs: on SIGTERM unwind like on Ctrl-C so they are released.
    signal.signal(signal.SIGTERM, _interrupted)
    renderer = None if quiet else _Renderer()
    with client_from(ctx) as client:
        result = client.build(context, dockerfile=dockerfile, tags=tags, build_args=build_args, target=target,
                              labels=labels, no_cache=no_cache, network=network, platform=platform,
                              secrets=secrets, pull=True if pull else None, progress=renderer)
    if iidfile:
        with open(iidfile, "w") as out:
            out.write(result.image_id)
    if quiet:
        sys.stdout.write(result.image_id + "\n")


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _Renderer:
    """Prints build events the way ``DOCKER_BUILDKIT=0 docker build`` does."""

    def __call__(self, event) -> None:
        from lamina.build import events
        from lamina.cli.output import human_size
        from lamina.oci.digest import short_id

        out = sys.stdout
        if isinstance(event, events.ContextSent):
            out.write(f"Sending build context to lamina  {human_size(event.size, 4)}\n")
        elif isinstance(event, events.StepStarted):
            out.write(f"Step {event.number}/{event.total} : {event.text}\n")
        elif isinstance(event, events.StepFinished):
            if event.cached:
                out.write(" ---> Using cache\n")
            out.write(f" ---> {short_id(event.image_id) if event.image_id else ''}\n")
        elif isinstance(event, events.TriggersRunning):
            out.write(f"# Executing {event.count} build trigger{'s' if event.count > 1 else ''}\n")
        elif isinstance(event, events.RunStarted):
            out.write(f" ---> Running in {event.container_id[:12]}\n")
        elif isinstance(event, events.StepOutput):
            out.flush()
            sys.stdout.buffer.write(event.data)
            sys.stdout.buffer.flush()
        elif isinstance(event, events.BuildWarning):
            out.flush()
            sys.stderr.write(f"[Warning] {event.text}\n")
        elif isinstance(event, events.Built):
            out.write(f"Successfully built {short_id(event.image_id)}\n")
        elif isinstance(event, events.Tagged):
            out.write(f"Successfully tagged {event.reference}\n")
        out.flush()
