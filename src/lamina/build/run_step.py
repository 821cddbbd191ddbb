"""The RUN step: the one place the builder hands a command to a container runtime.

The executor calls :func:`execute_run` for every ``RUN`` with everything the step needs and
records the result (history, cache, the next image) itself. A RUN that changes nothing returns
``None`` as its layer: docker then records an ``empty_layer`` history entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lamina.build.dockerfile import Run
from lamina.build.events import BuildEvent
from lamina.build.state import StageState
from lamina.errors import DockerfileError
from lamina.store.store import LayerRecord, Store


@dataclass(frozen=True, slots=True)
class RunRequest:
    """One RUN, ready to execute.

    - ``instruction``: as written (RUN text is never expanded by the builder; the shell does it).
    - ``state``: the image before the step (config: Env, User, WorkingDir, Shell; diff_ids).
    - ``build_args``: ARG values in effect and not shadowed by ENV; they go into the command's
      environment (not into the image).
    - ``network``: ``default``, ``none`` or ``host`` (``RUN --network`` already applied).
    - ``secrets``: ``--secret`` id → file on the host, for ``RUN --mount=type=secret``.
    - ``context_dir``: the build context on disk (``RUN --mount=type=bind`` without ``from``).
    - ``stage_layers``: a stage name/index or image name → its diff_ids (``--mount from=``).
    - ``emit``: reports progress (``RunStarted`` with the container id, ``StepOutput`` with the
      command's stdout/stderr bytes as they come).
    """

    store: Store
    instruction: Run
    state: StageState
    build_args: Mapping[str, str]
    network: str = "default"
    secrets: Mapping[str, Path] = field(default_factory=dict)
    context_dir: Path | None = None
    stage_layers: Callable[[str], tuple[str, ...]] | None = None
    emit: Callable[[BuildEvent], None] | None = None
    filename: str = "Dockerfile"


@dataclass(frozen=True, slots=True)
class RunResult:
    """The new layer (None when the command changed nothing) and the stage state after it.

    ``state`` is the input state with ``diff_ids`` extended by the layer; the executor adds the
    history entry and the image.
    """

    layer: LayerRecord | None
    state: StageState


def execute_run(request: RunRequest) -> RunResult:
    """Run ``request.instruction`` in a container on the stage's layers and capture its changes.

    The layer blob must be in the content store (the executor holds a lease) before returning.
    """
    raise DockerfileError("RUN is not supported yet", filename=request.filename, line=request.instruction.line)
