"""Which builder's semantics a build follows: docker's classic builder or BuildKit.

docker ≥ 23 builds with BuildKit unless ``DOCKER_BUILDKIT=0``; docker 20.10 the other way round.
lamina follows current docker: BuildKit semantics by default, the classic builder's with
``DOCKER_BUILDKIT=0`` or ``--builder classic``. A Dockerfile using syntax only BuildKit knows
(``RUN --mount``, ``COPY --chmod``, heredocs …) is built with BuildKit semantics whatever was
asked: the classic builder refuses it, so there is no classic result to match.

Only the standard library: the no-op rebuild door keys its answers on the mode.
"""

from __future__ import annotations

from collections.abc import Mapping

CLASSIC = "classic"
BUILDKIT = "buildkit"
BUILDERS = (CLASSIC, BUILDKIT)

# Go's strconv.ParseBool, which docker's CLI applies to DOCKER_BUILDKIT
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class BuilderChoiceError(ValueError):
    """``--builder`` or ``DOCKER_BUILDKIT`` holds something that names no builder."""


def requested_builder(flag: str | None, environ: Mapping[str, str]) -> str:
    """The builder asked for: ``--builder`` first, then docker's ``DOCKER_BUILDKIT`` switch,
    else BuildKit (current docker's default). An empty ``DOCKER_BUILDKIT`` counts as unset, as
    in docker's CLI."""
    if flag:
        if flag.lower() not in BUILDERS:
            raise BuilderChoiceError(f'invalid argument "{flag}" for "--builder" flag: use classic or buildkit')
        return flag.lower()
    value = environ.get("DOCKER_BUILDKIT", "")
    if not value:
        return BUILDKIT
    if value in _TRUE:
        return BUILDKIT
    if value in _FALSE:
        return CLASSIC
    raise BuilderChoiceError(
        f'DOCKER_BUILDKIT environment variable expects boolean value: strconv.ParseBool: parsing "{value}": invalid syntax')


def uses_buildkit(requested: str | None, needs_buildkit: bool) -> bool:
    """Whether the build follows BuildKit: asked for (or not asked: the default), or forced by
    BuildKit-only syntax in the Dockerfile."""
    return needs_buildkit or requested != CLASSIC
