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
    import signal

    mode = _progress_mode(progress, quiet)
    quiet = mode == "quiet"
    cache_from = [_cache_source(spec) for spec in cache_from]
    for spec in cache_to:
        if _cache_fields(spec).get("type", "inline") != "inline":
            raise click.UsageError(f"--cache-to {spec}: only type=inline is supported")

    from lamina.build.fastpath import FastRequest

    fast = None if no_cache or pull or cache_from else FastRequest(context, dockerfile, tags, build_args, target, labels,
                                                     network, platform, secrets)
    if fast is not None and _replay(ctx, fast, mode, iidfile):
        return
    # A build holds mounts and temp dirs: on SIGTERM unwind like on Ctrl-C so they are released.
    signal.signal(signal.SIGTERM, _interrupted)
    renderer = _Renderer(echo=mode == "plain")
    with client_from(ctx) as client:
        display = None
        on_event = renderer
        if mode == "tty":
            from lamina.cli.buildtty import LiveBuild

            display = LiveBuild()

            def on_event(event) -> None:
                renderer(event)
                display(event)

        try:
            result = client.build(context, dockerfile=dockerfile, tags=tags, build_args=build_args, target=target,
                                  labels=labels, no_cache=no_cache, network=network, platform=platform,
                                  secrets=secrets, pull=True if pull else None, progress=on_event,
                                  cache_from=cache_from)
        except BaseException as exc:
            if display is not None:
                display.close(failed="CANCELED" if isinstance(exc, KeyboardInterrupt) else "ERROR")
            raise
        if display is not None:
            display.close()
        if fast is not None and renderer.replayable:
            from lamina.build.fastpath import record

            record(client.store, fast, result.image_id, renderer.step_images, renderer.transcript)
    if iidfile:
        with open(iidfile, "w") as out:
            out.write(result.image_id)
    if quiet:
        sys.stdout.write(result.image_id + "\n")


def _progress_mode(progress: str | None, quiet: bool) -> str:
    """quiet, plain or tty: ``auto`` is tty when stderr is a terminal, like BuildKit's."""
    mode = (progress or "auto").lower()
    if quiet or mode == "quiet":
        return "quiet"
    if mode == "auto":
        return "tty" if sys.stderr.isatty() else "plain"
    return mode


def _replay(ctx, fast, mode: str, iidfile: str | None) -> bool:
    """An unchanged rebuild: print what the fully cached build prints, without loading the builder."""
    from lamina.cli.fastbuild import print_replay, recorded_answer

    answer = recorded_answer((ctx.find_root().obj or {}).get("root"), fast)
    if answer is None:
        return False
    print_replay(answer, mode, iidfile)
    return True


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


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _Renderer:
    """Prints build events the way ``DOCKER_BUILDKIT=0 docker build`` does, and keeps the
    transcript a fully cached rebuild would print (for the no-op fast path)."""

    def __init__(self, echo: bool = True):
        self.echo = echo
        self.transcript: list[list[str]] = []
        self.step_images: list[str] = []
        self.replayable = True
        self._step_text = ""

    def _line(self, text: str, *, cached_view: str | None = None, stream: str = "out") -> None:
        if self.echo:
            (sys.stderr if stream == "err" else sys.stdout).write(text + "\n")
        self.transcript.append([stream, text if cached_view is None else cached_view])

    def __call__(self, event) -> None:
        from lamina.build import events
        from lamina.cli.output import human_size
        from lamina.oci.digest import short_id

        if isinstance(event, events.ContextSent):
            self._line(f"Sending build context to lamina  {human_size(event.size, 4)}")
        elif isinstance(event, events.StepStarted):
            self._step_text = event.text
            self._line(f"Step {event.number}/{event.total} : {event.text}")
        elif isinstance(event, events.StepFinished):
            image = short_id(event.image_id) if event.image_id else ""
            from_step = self._step_text.split(None, 1)[0].upper() == "FROM" if self._step_text else False
            if event.cached and self.echo:
                sys.stdout.write(" ---> Using cache\n")
            if not from_step:
                self.transcript.append(["out", " ---> Using cache"])
            self._line(f" ---> {image}")
            if event.image_id:
                self.step_images.append(event.image_id)
        elif isinstance(event, events.TriggersRunning):
            self.replayable = False
            self._line(f"# Executing {event.count} build trigger{'s' if event.count > 1 else ''}")
        elif isinstance(event, events.RunStarted):
            if self.echo:
                sys.stdout.write(f" ---> Running in {event.container_id[:12]}\n")
        elif isinstance(event, events.StepOutput):
            if self.echo:
                sys.stdout.flush()
                sys.stdout.buffer.write(event.data)
                sys.stdout.buffer.flush()
        elif isinstance(event, events.BuildWarning):
            sys.stdout.flush()
            self._line(f"[Warning] {event.text}", stream="err")
        elif isinstance(event, events.Built):
            self._line(f"Successfully built {short_id(event.image_id)}")
        elif isinstance(event, events.Tagged):
            self._line(f"Successfully tagged {event.reference}")
        if self.echo:
            sys.stdout.flush()
