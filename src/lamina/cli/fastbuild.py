"""``lamina build`` started before click loads.

A no-op rebuild takes about a tenth of a second, and loading click and the store's modules was
a third of that; a rebuild that runs steps waits for click too. So the console entry point
looks at the arguments first: when they are the plain forms of the flags below (``-t``, ``-f``,
``--build-arg``, ``--network``, ``-q`` … and one context), the recorded no-op answer is looked
up with only the standard library, ``build.fastpath`` and the metadata database, and printed;
without one the build runs through :func:`lamina.cli.buildrun.run_build`, the function the
click command calls. Anything else — an unknown flag, ``--no-cache``, ``--cache-from``, a short
flag with its value attached — returns False and click parses the call as before.
"""

from __future__ import annotations

from lamina.cli.buildreplay import print_replay, recorded_answer
from lamina.cli.globalflags import after_globals

__all__ = ["try_fast_build"]

_VALUED = {"-t": "tags", "--tag": "tags", "-f": "dockerfile", "--file": "dockerfile", "--build-arg": "build_args",
           "--target": "target", "--label": "labels", "--network": "network", "--platform": "platform",
           "--secret": "secrets", "--iidfile": "iidfile", "--progress": "progress", "--builder": "builder"}
_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--rm": None, "--force-rm": None}
_LISTS = ("tags", "build_args", "labels", "secrets")
_PROGRESS = ("auto", "plain", "tty", "quiet")


def _parse(argv: list[str]) -> dict | None:
    """The options of ``[--root DIR] [--debug] build OPTIONS CONTEXT``, or None when unusual."""
    leading = after_globals(argv, "build")
    if leading is None:
        return None
    options: dict = {key: [] for key in _LISTS}
    options.update(dockerfile=None, target=None, network="default", platform=None, iidfile=None, progress="auto", builder=None,
                   quiet=False, context=None)
    options["root"], options["debug"], args = leading
    while args:
        word = args.pop(0)
        if word in _FLAGS:
            if _FLAGS[word]:
                options[_FLAGS[word]] = True
            continue
        name, has_value, value = word.partition("=")
        if name in _VALUED and (word.startswith("--") or not has_value):
            if not has_value:
                if not args:
                    return None
                value = args.pop(0)
            key = _VALUED[name]
            if key in _LISTS:
                options[key].append(value)
            else:
                options[key] = value
            continue
        if word.startswith("-") or options["context"] is not None:
            return None
        options["context"] = word
    if options["context"] is None or options["progress"].lower() not in _PROGRESS:
        return None
    return options


def try_fast_build(argv: list[str]) -> bool:
    """Answer the build (a recorded no-op, or the build itself) and return True; False to let
    click parse the call."""
    options = _parse(argv)
    if options is None:
        return False
    try:
        import os

        from lamina.build.fastpath import FastRequest
        from lamina.build.mode import requested_builder
        from lamina.cli.buildrun import with_source_date_epoch

        options["build_args"] = with_source_date_epoch(options["build_args"], os.environ)
        request = FastRequest(options["context"], options["dockerfile"], options["tags"], options["build_args"],
                              options["target"], options["labels"], options["network"], options["platform"],
                              options["secrets"], requested_builder(options["builder"], os.environ))
        answer = recorded_answer(options["root"], request)
    except Exception:  # noqa: BLE001 - any doubt: the normal path runs and reports properly
        return False
    if answer is None:
        from lamina.cli.buildrun import run_build
        from lamina.cli.failures import run_guarded

        run_guarded(lambda: run_build(
            options["root"], options["context"], tags=options["tags"], dockerfile=options["dockerfile"],
            build_args=options["build_args"], target=options["target"], labels=options["labels"],
            network=options["network"], quiet=options["quiet"], iidfile=options["iidfile"],
            platform=options["platform"], secrets=options["secrets"], progress=options["progress"],
            builder=options["builder"], fast_checked=True), options["debug"])
        return True
    from lamina.cli.buildrun import progress_mode

    print_replay(answer, progress_mode(options["progress"], options["quiet"]), iidfile=options["iidfile"])
    return True
