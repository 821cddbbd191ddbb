"""``lamina build`` after its flags are parsed, by click or by the entry point's door
(:mod:`lamina.cli.fastbuild`): the fast no-op answer, else the builder with docker's classic
output. Imports no click: a build that changed a file should not wait for it."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["progress_mode", "run_build"]


def run_build(root: str | None, context: str, *, tags: Sequence[str] = (), dockerfile: str | None = None,
              build_args: Sequence[str] = (), target: str | None = None, labels: Sequence[str] = (),
              no_cache: bool = False, network: str = "default", quiet: bool = False, iidfile: str | None = None,
              pull: bool = False, platform: str | None = None, secrets: Sequence[str] = (),
              cache_from: Sequence[str] = (), cache_to: Sequence[str] = (), progress: str | None = "auto",
              fast_checked: bool = False,
              run_host_config: dict | None = None, builder: str | None = None, squash: bool = False,
              reproducible_check: bool = False, attest: tuple[bool, bool, object] | None = None) -> None:
    """Build ``context`` and print what docker's classic builder prints (or the ID with -q).
    ``fast_checked``: the caller already found no recorded no-op answer for this request.
    ``run_host_config``: HostConfig fields for RUN containers (they change no cache key, so a
    recorded no-op answer still holds). ``builder``: ``--builder``; without it ``DOCKER_BUILDKIT``
    decides (:func:`lamina.build.mode.requested_builder`). ``reproducible_check``: build again
    without cache and fail naming the first difference (:mod:`lamina.build.reprocheck`).
    ``attest``: (``--sbom``, ``--provenance``, the ``--attest-key`` private key or None): attach
    those attestations to the built image (:mod:`lamina.security.signing.buildattest`)."""
    import os
    import signal

    from lamina.build.mode import BuilderChoiceError, requested_builder

    try:
        builder = requested_builder(builder, os.environ)
    except BuilderChoiceError as exc:
        from lamina.errors import UsageError

        raise UsageError(str(exc)) from None

    build_args = with_source_date_epoch(build_args, os.environ)
    mode = progress_mode(progress, quiet)
    quiet = mode == "quiet"
    from lamina.build.fastpath import FastRequest

    fast = None if no_cache or pull or cache_from or cache_to or squash or reproducible_check or attest else FastRequest(context, dockerfile, tags, build_args, target, labels,
                                                     network, platform, secrets, builder)
    if fast is not None and not fast_checked:
        from lamina.cli.buildreplay import print_replay, recorded_answer

        answer = recorded_answer(root, fast)
        if answer is not None:
            print_replay(answer, mode, iidfile)
            return
    # A build holds mounts and temp dirs: on SIGTERM unwind like on Ctrl-C so they are released.
    signal.signal(signal.SIGTERM, _interrupted)
    renderer = _Renderer(echo=mode == "plain")
    facts = None
    if attest:
        from lamina.security.signing.buildattest import BuildFacts

        facts = BuildFacts(context, _dockerfile_path(context, dockerfile), build_args, target, platform)
        renderer = _Both(renderer, facts)
    from lamina.api import Client

    with Client(root=root) as client:
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
                                  cache_from=list(cache_from), run_host_config=run_host_config,
                                  builder=builder, squash=squash, cache_to=list(cache_to))
        except BaseException as exc:
            if display is not None:
                display.close(failed="CANCELED" if isinstance(exc, KeyboardInterrupt) else "ERROR")
            raise
        if display is not None:
            display.close()
        if reproducible_check:
            _check_reproducible(client, result.image_id, context, dockerfile=dockerfile, build_args=build_args,
                                target=target, labels=labels, network=network, platform=platform,
                                secrets=secrets, cache_from=list(cache_from), run_host_config=run_host_config,
                                builder=builder, squash=squash)
        if attest and facts is not None:
            from lamina.security.signing.buildattest import attach_build_attestations

            sbom, provenance, key = attest
            attach_build_attestations(client.store, result.image_id, _pin_push_manifest(client.store, result.image_id),
                                      root=root, repository=_repository(tags), sbom=sbom,
                                      provenance=facts if provenance else None, key=key)
        if fast is not None and renderer.replayable:
            from lamina.build.fastpath import record

            record(client.store, fast, result.image_id, renderer.step_images, renderer.transcript)
    if iidfile:
        with open(iidfile, "w") as out:
            out.write(result.image_id)
    if quiet:
        sys.stdout.write(result.image_id + "\n")


def with_source_date_epoch(build_args: Sequence[str], environ) -> list[str]:
    """``$SOURCE_DATE_EPOCH`` becomes the build arg of that name unless one is given (as buildx does)."""
    value = environ.get("SOURCE_DATE_EPOCH")
    if value is None or any(arg.partition("=")[0] == "SOURCE_DATE_EPOCH" for arg in build_args):
        return list(build_args)
    return [*build_args, f"SOURCE_DATE_EPOCH={value}"]


def _check_reproducible(client, image_id: str, context: str, **options) -> None:
    """Build ``context`` again without cache (untagged) and fail naming the first difference."""
    from lamina.build.reprocheck import first_difference
    from lamina.errors import BuildError

    second = client.build(context, no_cache=True, **options)
    difference = first_difference(client.store, image_id, second.image_id)
    if difference is not None:
        raise BuildError(f"not reproducible: {difference}")
    sys.stderr.write(f"reproducible: a second build without cache gave the same image {image_id}\n")


class _Both:
    """The renderer, and the build's facts for its provenance, both fed every event."""

    def __init__(self, renderer: _Renderer, facts) -> None:
        self.renderer, self.facts = renderer, facts

    def __getattr__(self, name: str):
        return getattr(self.renderer, name)

    def __call__(self, event) -> None:
        self.renderer(event)
        self.facts(event)


def _dockerfile_path(context: str, dockerfile: str | None) -> str:
    """Where the Dockerfile is: -f as given (relative to the working directory, as docker), else in the context."""
    import os

    if dockerfile:
        return dockerfile if os.path.exists(dockerfile) else os.path.join(context, dockerfile)
    return os.path.join(context, "Dockerfile")


def _pin_push_manifest(store, image_id: str) -> str:
    """The manifest a plain ``push`` sends for the image (gzip layers), kept so push reuses it: the
    attestations name this digest (a stored image has none of its own until it is pushed)."""
    from lamina.oci.digest import sha256_digest
    from lamina.registry.push import _manifest_for

    with store.lease():
        data, media_type, _, _ = _manifest_for(store, image_id, "gzip", None, False)
        digest = sha256_digest(data)
        store.content.ingest_bytes(data, digest)
        store.add_manifest(digest, media_type, image_id)
    return digest


def _repository(tags: Sequence[str]) -> str:
    """The repository the attestations' statements name: the first tag's, else none."""
    if not tags:
        return ""
    from lamina.oci.reference import parse_reference

    return parse_reference(tags[0]).repository


def progress_mode(progress: str | None, quiet: bool) -> str:
    """quiet, plain or tty: ``auto`` is tty when stderr is a terminal, like BuildKit's."""
    mode = (progress or "auto").lower()
    if quiet or mode == "quiet":
        return "quiet"
    if mode == "auto":
        return "tty" if sys.stderr.isatty() else "plain"
    return mode


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
