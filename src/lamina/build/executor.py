"""``lamina build``: run a Dockerfile's stages and store the image, as docker's builders do.

Which builder's semantics apply (classic or BuildKit: WORKDIR owners, VOLUME contents, setuid
bits, unused stages …) is decided once per build by :mod:`lamina.build.mode` and kept in
``self.buildkit``. The executor walks the stages it builds, one instruction at a time. Every step commits
an image on top of the previous one (see commit.py), so history, layers and config come out
the way ``DOCKER_BUILDKIT=0 docker build`` makes them, and those step images double as the
build cache. Metadata instructions only change the config; WORKDIR, COPY and ADD write layers
from a plan (copy.py); RUN goes to :func:`lamina.build.run_step.execute_run`.

Errors name the Dockerfile line: ``Dockerfile:7: COPY failed: "x": not found in build context``.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import msgspec.structs

from lamina.build import imageconfig
from lamina.build.args import BuildArgs, environment, platform_args
from lamina.build.bindcontext import bind_context_root
from lamina.build.cache import BuildCache, step_key
from lamina.build.commit import (
    base_state,
    begin_stage,
    comment_command,
    commit_stage_config,
    commit_step,
    scratch_state,
)
from lamina.build.context import ContextError, resolve_in_context
from lamina.build.copy import ROOT_OWNER, CopyPlan, lookup_owner, parse_chmod, write_plan
from lamina.build.digests import FileDigests
from lamina.build.dockerfile import (
    Add,
    Arg,
    Copy,
    Dockerfile,
    Instruction,
    Label,
    Run,
    Stage,
    Workdir,
    expand_instruction,
    parse_stages,
    parse_trigger,
)
from lamina.build.dockerignore import PatternMatcher, literal_pattern, load_ignore_patterns
from lamina.build.events import (
    BuildEvent,
    BuildWarning,
    Built,
    ContextSent,
    StepFinished,
    StepStarted,
    Tagged,
    TriggersRunning,
)
from lamina.build.imageconfig import ImageState
from lamina.build.inputs import came_as_archive
from lamina.build.mode import BUILDERS, uses_buildkit
from lamina.build.remote import download
from lamina.build.rootfs import RootfsViews
from lamina.build.run_step import RunRequest, execute_run, run_argv
from lamina.build.sources import ContextTree, Source, SourceTree, source_checksum
from lamina.build.state import StageState
from lamina.errors import BuildError, DockerfileError, ImageNotFoundError, InvalidReferenceError, LaminaError
from lamina.oci.reference import Reference, parse_reference
from lamina.runtime.users import resolve_user
from lamina.store.store import LayerRecord, Store

SCRATCH = "scratch"


class BuildOptions(msgspec.Struct):
    """What ``lamina build`` was asked to do.

    ``dockerfile`` defaults to ``<context>/Dockerfile``; ``dockerfile_text`` replaces the file
    (``-f -``). ``build_args`` values of None mean "declared without a value". ``pull_image``
    fetches an image (base or ``COPY --from``) and returns its ID: the API passes the registry
    puller in. It is used for images missing from the store, or for every one with ``pull``;
    without it a missing image is an error. ``run_host_config``: docker's HostConfig fields for
    every RUN container (``--add-host``, ``--ulimit``, ``--shm-size``, ``--security-opt``, ``-m``,
    ``--cpu-*``); like docker's classic builder, they never enter the cache key.
    """

    context_dir: Path
    dockerfile: Path | None = None
    dockerfile_text: bytes | None = None
    tags: Sequence[str] = ()
    build_args: Mapping[str, str | None] = msgspec.field(default_factory=dict)
    target: str | None = None
    labels: Mapping[str, str] = msgspec.field(default_factory=dict)
    no_cache: bool = False
    network: str = "default"
    platform: str | None = None
    secrets: Mapping[str, Path] = msgspec.field(default_factory=dict)
    pull: bool = False
    pull_image: Callable[[str], str] | None = None
    cache_from: Sequence[str] = ()  # image names, or type=registry|local specs (remotecache.py)
    cache_to: Sequence[str] = ()  # --cache-to specs (cacheexport.py)
    run_host_config: Mapping[str, Any] = msgspec.field(default_factory=dict)
    scratch: Path | None = None  # where the work files go (``runtime.scratch``); None: a temp dir
    builder: str | None = None  # "classic" or "buildkit" semantics (see mode.py); None: BuildKit's
    #: ``--squash``: (image ID, final stage's base ID or "") -> the squashed image's ID (from the client)
    squash: Callable[[str, str], str] | None = None
    #: (FROM image, platform) -> that platform's image ID (multiplatform.py); set with ``platform``
    platform_image: Callable[[str, str], str] | None = None


class BuildResult(msgspec.Struct):
    image_id: str
    tags: list[str] = msgspec.field(default_factory=list)  # familiar references
    warnings: list[str] = msgspec.field(default_factory=list)


def build(store: Store, options: BuildOptions, emit: Callable[[BuildEvent], None] | None = None) -> BuildResult:
    """Build the Dockerfile in ``options`` into ``store``; progress goes to ``emit``."""
    return _Build(store, options, emit or (lambda event: None)).run()


def normalize_dest(workdir: str, dest: str) -> str:
    """COPY's destination as an absolute path: relative ones continue from WORKDIR; a final ``/`` stays."""
    if dest.startswith("/"):
        return dest
    joined = posixpath.normpath(posixpath.join("/", workdir or "/", dest))
    return joined + "/" if dest.endswith("/") and joined != "/" else joined


class _StagePlan(msgspec.Struct):
    stage: Stage
    base: str                     # FROM's image after expansion
    base_stage: int | None = None  # index of the stage it builds on, if any
    platform: str | None = None   # FROM --platform after expansion (e.g. $BUILDPLATFORM)


class _Build:
    def __init__(self, store: Store, options: BuildOptions, emit: Callable[[BuildEvent], None]):
        self.store = store
        self.options = options
        self.emit = emit
        self.warnings: list[str] = []
        self.args = BuildArgs(from_options=dict(options.build_args), meta=platform_args(options.platform))
        self.results: dict[int, StageState] = {}
        self.squash_base = ""  # the final stage's base image ("" for scratch), for --squash
        self.step = 0
        self.total = 0
        self.bind_root: Path | None = None
        self.dockerfile_path: Path | None = None  # None: the Dockerfile came as text (-f -)
        self.epoch = source_date_epoch(options.build_args)
        # a build at a fixed epoch makes other images than one without: its own cache entries
        self.epoch_key = "" if self.epoch is None else f"\0epoch:{self.epoch}"

    # -- the whole build ---------------------------------------------------------------------

    def run(self) -> BuildResult:
        options = self.options
        tags = [_parse_tag(tag) for tag in options.tags]
        dockerfile = self._read_dockerfile()
        for warning in dockerfile.warnings:
            self._warn(warning)
        self.filename = dockerfile.filename
        self.escape = dockerfile.escape
        if options.builder not in (None, *BUILDERS):
            raise BuildError(f"unknown builder {options.builder!r}: use classic or buildkit")
        self.buildkit = uses_buildkit(options.builder, dockerfile.needs_buildkit)
        context = ContextTree(options.context_dir, self._ignore_matcher(), self._dockerfile_in_context())
        self.context = context
        self.emit(ContextSent(context.tar_size()))
        plans = self._plan(dockerfile)
        self.cache = self._cache_ledger()
        self.cache_sources = self._cache_sources()
        self.cache_source_chains = self._source_chains() if self.cache_sources else frozenset()
        self.digests = FileDigests(self.store)
        with tempfile.TemporaryDirectory(prefix="work-" if self.options.scratch else "lamina-build-",
                                         dir=self.options.scratch) as workdir, self.store.lease():
            self.workdir = Path(workdir)
            self.views = RootfsViews(self.store, self.workdir)
            try:
                for arg in dockerfile.global_args:
                    self._meta_arg(arg)
                for index in sorted(plans):
                    self.results[index] = self._run_stage(plans[index], last=index == max(plans))
            finally:
                self.views.close()
                self.digests.save()
            final = self.results[max(plans)]
            if not final.image_id:
                raise BuildError("No image was generated. Is your Dockerfile empty?")
            self.cache.materialize(final.image_id)  # a lazily hit image is recorded, layers fetched
            unused = self.args.unused()
            if unused:
                self._warn(f"One or more build-args [{' '.join(unused)}] were not consumed")
            image_id = final.image_id
            if options.squash is not None:  # docker's --squash: the final stage's layers made one
                image_id = options.squash(image_id, self.squash_base)
            self.emit(Built(image_id))
            names = []
            for ref in tags:  # still under the lease: a concurrent prune never sees the image untagged
                self.store.tag(image_id, ref)
                names.append(ref.familiar)
                self.emit(Tagged(ref.familiar))
            if options.cache_to:
                from lamina.build.cacheexport import export_caches

                export_caches(self.store, self.cache, final.image_id, options.cache_to)
        return BuildResult(image_id, names, self.warnings)

    def _ignore_matcher(self) -> PatternMatcher:
        """The .dockerignore rules for this context (``<Dockerfile>.dockerignore`` is BuildKit's: the
        classic builder's client reads only the context's); a tar context loses only the
        Dockerfile and .dockerignore to them."""
        options = self.options
        patterns = load_ignore_patterns(options.context_dir, self.dockerfile_path if self.buildkit else None)
        matcher = PatternMatcher(patterns)
        if not came_as_archive(options.context_dir):
            return matcher
        named = [".dockerignore", self._dockerfile_in_context() or "Dockerfile"]
        return PatternMatcher([literal_pattern(name) for name in named if matcher.matches(name)])

    def _dockerfile_in_context(self) -> str | None:
        """The Dockerfile's path relative to the context, when it is a file of the context."""
        options = self.options
        if options.dockerfile_text is not None:
            return None
        path = Path(os.path.abspath(options.dockerfile or options.context_dir / "Dockerfile"))
        try:
            relative = path.relative_to(os.path.abspath(options.context_dir))
        except ValueError:
            return None
        return relative.as_posix() if relative.parts else None

    def _read_dockerfile(self) -> Dockerfile:
        options = self.options
        if options.dockerfile_text is not None:
            return parse_stages(options.dockerfile_text, "Dockerfile")
        path = options.dockerfile or options.context_dir / "Dockerfile"
        if options.dockerfile is None and not path.exists() and (options.context_dir / "dockerfile").exists():
            path = options.context_dir / "dockerfile"
        self.dockerfile_path = path  # BuildKit reads <this>.dockerignore first
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise BuildError(f"Cannot locate specified Dockerfile: {path}") from None
        except IsADirectoryError:
            raise BuildError(f"the Dockerfile ({path}) cannot be a directory") from None
        return parse_stages(text, path.name)

    # -- which stages, in which order ---------------------------------------------------------

    def _plan(self, dockerfile: Dockerfile) -> dict[int, _StagePlan]:
        """The stages the target needs (BuildKit's rule), with FROM expanded and checked up front."""
        meta = BuildArgs(from_options=self.args.from_options, meta=platform_args(self.options.platform))
        for arg in dockerfile.global_args:
            expanded = expand_instruction(arg, meta.stage_values(), self.escape, self.filename).instruction
            assert isinstance(expanded, Arg)
            for name, default in expanded.pairs:
                meta.declare_meta(name, default)
        stages = dockerfile.stages
        target = len(stages) - 1
        if self.options.target:
            target = _target_index(dockerfile, self.options.target)
        plans: dict[int, _StagePlan] = {}
        for stage in stages[: target + 1]:
            assert stage.from_ is not None
            image = expand_instruction(stage.from_, meta.meta_values(), self.escape, self.filename).instruction
            base = getattr(image, "image", stage.base)
            if not base:
                raise DockerfileError(f"base name ({stage.base}) should not be blank", filename=self.filename, line=stage.line)
            plan = _StagePlan(stage, base, self._earlier_stage(stages, stage.index, base, by_index=False),
                              platform=getattr(image, "platform", None) or None)
            plans[stage.index] = plan
        self.stages = stages
        self.all_plans = plans
        # BuildKit builds only the stages the target needs; the classic builder every one up to it
        needed = self._needed(plans, target) if self.buildkit else sorted(plans)
        for index in needed:
            plan = plans[index]
            if plan.base_stage is None and plan.base.lower() != SCRATCH:
                try:
                    parse_reference(plan.base)
                except InvalidReferenceError as exc:
                    raise DockerfileError(f"{exc}: {plan.base}" if plan.base not in str(exc) else str(exc),
                                          filename=self.filename, line=plan.stage.line) from None
        self.total = len(dockerfile.global_args) + sum(1 + len(plans[i].stage.instructions) for i in needed)
        self.total += len(self.options.labels)
        return {index: plans[index] for index in needed}

    def _needed(self, plans: Mapping[int, _StagePlan], target: int) -> list[int]:
        needed: set[int] = set()
        pending = [target]
        while pending:
            index = pending.pop()
            if index in needed:
                continue
            needed.add(index)
            plan = plans[index]
            if plan.base_stage is not None:
                pending.append(plan.base_stage)
            pending += self._stages_used(plan.stage.instructions, index)
        return sorted(needed)

    def _stages_used(self, instructions: Iterable[Instruction], current: int) -> list[int]:
        """The earlier stages ``COPY --from`` and ``RUN --mount=…,from=`` of ``instructions`` name."""
        used = []
        for instruction in instructions:
            sources = [instruction.from_] if isinstance(instruction, Copy) and instruction.from_ else []
            if isinstance(instruction, Run):  # RUN --mount=...,from=<stage> needs that stage too
                sources += [mount.from_ for mount in instruction.mounts if mount.from_]
            for source in sources:
                earlier = self._earlier_stage(self.stages, current, source, by_index=True)
                if earlier is not None:
                    used.append(earlier)
        return used

    def _build_stages_for_triggers(self, triggers: Sequence[Instruction], current: int) -> None:
        """Build the earlier stages a base image's ONBUILD triggers use (``COPY --from=builder``)
        that the plan skipped: it could not see the triggers before the base image was at hand,
        and docker's classic builder, building every stage in order, has them all."""
        missing = [index for index in self._stages_used(triggers, current) if index not in self.results]
        if not missing:
            return
        for index in sorted({i for wanted in missing for i in self._needed(self.all_plans, wanted)}):
            if index not in self.results:
                self.total += 1 + len(self.all_plans[index].stage.instructions)
                self.results[index] = self._run_stage(self.all_plans[index], last=False)
        self.current_stage = current

    @staticmethod
    def _earlier_stage(stages: Sequence[Stage], current: int, name: str, *, by_index: bool) -> int | None:
        """The index of an earlier stage called ``name`` (or numbered, for ``--from``)."""
        wanted = name.lower()
        for stage in stages[:current]:
            if stage.name == wanted:
                return stage.index
        if by_index and name.isdigit() and int(name) < current:
            return int(name)
        return None

    # -- steps ------------------------------------------------------------------------------------

    def _meta_arg(self, arg: Arg) -> None:
        self._start(arg.source)
        expanded = self._expand(arg, self.args.stage_values())
        assert isinstance(expanded, Arg)
        for name, default in expanded.pairs:
            self.args.declare_meta(name, default)

    def _run_stage(self, plan: _StagePlan, *, last: bool) -> StageState:
        stage = plan.stage
        self.current_stage = stage.index
        self._start(stage.from_.source if stage.from_ else f"FROM {stage.base}")
        state = begin_stage(self._base(plan))
        if last:
            self.squash_base = state.image_id  # what --squash keeps: the final stage's base image
        stage_args = self.args.for_stage()
        triggers = list(state.config.get("OnBuild") or [])
        if triggers:
            config = dict(state.config)
            config["OnBuild"] = None
            state = msgspec.structs.replace(state, config=config)
            self.emit(TriggersRunning(len(triggers)))
            parsed = []
            for expression in triggers:
                try:
                    trigger = parse_trigger(expression, self.filename)
                except DockerfileError as exc:
                    raise DockerfileError(f"ONBUILD trigger: {exc}", filename=self.filename, line=stage.line) from None
                parsed.append(msgspec.structs.replace(trigger, line=stage.line, end_line=stage.line))
            self._build_stages_for_triggers(parsed, stage.index)
            for trigger in parsed:
                state = self._dispatch(trigger, state, stage_args)
        self.emit(StepFinished(state.image_id))
        instructions: Iterable[Instruction] = stage.instructions
        if last:
            instructions = [*stage.instructions, *self._label_steps()]
        started = state.image_id
        for instruction in instructions:
            self._start(instruction.source)
            before = state.image_id
            state = self._dispatch(instruction, state, stage_args)
            self.emit(StepFinished(state.image_id, cached=self._cached and state.image_id != before))
        if last and self.buildkit and state.image_id == started and plan.base.lower() != SCRATCH:
            self.cache.materialize(state.image_id)
            state = commit_stage_config(self.store, state)  # BuildKit's export of an untouched base
        return state

    def _label_steps(self) -> list[Instruction]:
        """``--label`` becomes one LABEL step per label, sorted, at the end (as docker does it)."""
        return [Label(pairs=((key, value),), source=f"LABEL {key}={value}")
                for key, value in sorted(self.options.labels.items())]

    def _base(self, plan: _StagePlan) -> StageState:
        if plan.base_stage is not None:
            return self.results[plan.base_stage]
        if plan.base.lower() == SCRATCH:
            state = scratch_state()
            if plan.platform or self.options.platform:  # the empty image of the platform built for
                from lamina.build.multiplatform import platform_fields

                state = msgspec.structs.replace(state, platform=platform_fields(plan.platform or self.options.platform))
            if self.buildkit:  # BuildKit's empty image has WorkingDir "/", the classic one none
                return msgspec.structs.replace(state, config={**state.config, "WorkingDir": "/"})
            return state
        try:
            platform = plan.platform or self.options.platform
            if platform and self.options.platform_image is not None:
                image_id = self.options.platform_image(plan.base, platform)
            else:
                image_id = self._image(plan.base)
        except LaminaError as exc:
            raise DockerfileError(str(exc), filename=self.filename, line=plan.stage.line) from None
        return base_state(self.store, image_id)

    def _image(self, name: str) -> str:
        """A base or ``--from`` image by name: from the store, else (or with ``--pull``) pulled."""
        puller = self.options.pull_image
        if puller is not None and self.options.pull:
            return puller(name)
        try:
            return self.store.resolve(name)
        except ImageNotFoundError:
            if puller is None:
                raise ImageNotFoundError(f"No such image: {name} (it is not in the local store)") from None
        return puller(name)  # its errors name the reference and say why (no such host, denied, ...)

    def _start(self, text: str) -> None:
        self.step += 1
        self.emit(StepStarted(self.step, self.total, text))
        self._cached = False

    def _dispatch(self, instruction: Instruction, state: StageState, stage_args: BuildArgs) -> StageState:
        try:
            return self._dispatch_step(instruction, state, stage_args)
        except DockerfileError:
            raise
        except (LaminaError, OSError) as exc:
            message = str(exc) if isinstance(exc, LaminaError) else f"{exc.strerror or exc}: {exc.filename or ''}"
            if isinstance(instruction, Copy | Add) and not message.startswith(instruction.keyword.upper()):
                message = f"{instruction.keyword.upper()} failed: {message}"
            raise DockerfileError(message, filename=self.filename, line=instruction.line) from None

    def _dispatch_step(self, instruction: Instruction, state: StageState, stage_args: BuildArgs) -> StageState:
        env = environment(state.config.get("Env"))
        visible = {**stage_args.visible(env), **env}
        if isinstance(instruction, Label) and not instruction.line:
            expanded = instruction  # --label values are taken literally
        else:
            expanded = self._expand(instruction, visible)
        if isinstance(expanded, Arg):
            for name, default in expanded.pairs:
                stage_args.declare(name, default)
        image_state = ImageState(state.config, state.author, state.cmd_set)
        after = imageconfig.apply_instruction(image_state, expanded)
        if isinstance(expanded, Run):
            return self._run(expanded, state, after, stage_args, env)
        if isinstance(expanded, Copy | Add):
            return self._copy(expanded, state, after)
        created_by = imageconfig.created_by(expanded, after)
        make_layer = None
        if isinstance(expanded, Workdir):
            make_layer = self._workdir_layer(state, str(after.config.get("WorkingDir") or "/"),
                                             str(after.config.get("User") or "") if self.buildkit else "")
        elif not self.buildkit and (after.config.get("WorkingDir") or after.config.get("Volumes")):
            make_layer = self._container_layer(state, after.config)
        return self._commit(state, after, created_by, comment_command(after.config, created_by), make_layer)

    def _expand(self, instruction: Instruction, env: Mapping[str, str]) -> Instruction:
        return expand_instruction(instruction, env, self.escape, self.filename).instruction

    def _commit(
        self,
        state: StageState,
        after: ImageState,
        created_by: str,
        command: Sequence[str],
        make_layer: Callable[[], LayerRecord | None] | None,
        key_extra: str = "",
    ) -> StageState:
        """Reuse the cached image for this step or make it (``make_layer`` writes its layer).

        ``key_extra`` is what else the step read (files bind-mounted into a RUN)."""
        if not self.options.no_cache:
            cached = self.cache.lookup(state.image_id, step_key(created_by + key_extra + self.epoch_key, after.config, after.author))
            if cached is not None and self.cache_sources and cached not in self.cache_source_chains:
                cached = None  # moby: with --cache-from, a local hit counts only on a source's own chain
            if cached is not None:
                self._cached = True
                found = base_state(self.store, cached)
                return msgspec.structs.replace(found, config=dict(after.config), author=after.author,
                                           cmd_set=after.cmd_set)
            self.cache.materialize(state.image_id)  # the step runs: its parent's files are needed
            restored = self._restore_from_sources(state, after, created_by, command)
            if restored is not None:
                self._cached = True
                return restored
        layer = make_layer() if make_layer is not None else None
        return self._store_step(state, after, created_by, command, layer, key_extra)

    # -- --cache-from: docker's classic image cache over other images' histories -----------------

    def _cache_ledger(self) -> Any:
        """The local cache, with ``--cache-from`` caches (registry, local) behind it; the other
        ``--cache-from`` names are images (``self.cache_images``)."""
        from lamina.build.remotecache import open_caches

        ledger, self.cache_images = open_caches(self.store, BuildCache(self.store), self.options.cache_from,
                                                self._warn)
        return ledger

    def _source_chains(self) -> frozenset[str]:
        """The ``--cache-from`` images and every image they were built on (their parent links):
        the local cache hits moby's image cache accepts while sources are given."""
        chains: set[str] = set()
        for image_id in self.cache_source_ids:
            while image_id and image_id not in chains:
                chains.add(image_id)
                try:
                    image_id = self.store.image(image_id).parent
                except LaminaError:
                    break
        return frozenset(chains)

    def _cache_sources(self) -> list[tuple[tuple, tuple]]:
        """(history, diff_ids) of each ``--cache-from`` image; missing ones are pulled when possible."""
        self.cache_source_ids: list[str] = []
        sources = []
        for name in self.cache_images:
            try:
                image_id = self.store.resolve(name)
            except LaminaError:
                if self.options.pull_image is None:
                    self._warn(f"--cache-from image {name} is not in the store")
                    continue
                try:
                    image_id = self.options.pull_image(name)
                except LaminaError as exc:
                    self._warn(f"--cache-from image {name} could not be pulled: {exc}")
                    continue
            document = base_state(self.store, image_id)
            sources.append((tuple(document.history), tuple(document.diff_ids)))
            self.cache_source_ids.append(image_id)
        return sources

    def _restore_from_sources(self, state: StageState, after: ImageState, created_by: str,
                              command: Sequence[str]) -> StageState | None:
        """A source whose history and layers continue ``state``'s with this very step gives its
        layer (or empty step) and history entry: the step is not run (moby's imageCache rules)."""
        depth, layers = len(state.history), len(state.diff_ids)
        for history, diff_ids in self.cache_sources:
            if len(history) <= depth or tuple(history[:depth]) != tuple(state.history):
                continue
            if tuple(diff_ids[:layers]) != tuple(state.diff_ids):
                continue
            entry = history[depth]
            if entry.get("created_by") != created_by:
                continue
            layer = None
            if not entry.get("empty_layer"):
                if len(diff_ids) <= layers:
                    continue
                layer = self.store.layer_for(diff_ids[layers])
                if layer is None:
                    continue
            new_state = commit_step(self.store, state, after.config, created_by, command, layer,
                                    author=after.author, cmd_set=after.cmd_set, history_entry=entry, epoch=self.epoch)
            self.cache.record(state.image_id, step_key(created_by + self.epoch_key, after.config, after.author), new_state.image_id)
            return new_state
        return None

    def _store_step(self, state: StageState, after: ImageState, created_by: str, command: Sequence[str],
                    layer: LayerRecord | None, key_extra: str = "") -> StageState:
        """Commit the step's image and remember it for later builds."""
        new_state = commit_step(self.store, state, after.config, created_by, command, layer,
                                author=after.author, cmd_set=after.cmd_set, epoch=self.epoch)
        key = step_key(created_by + key_extra + self.epoch_key, after.config, after.author)
        self.cache.record(state.image_id, key, new_state.image_id)
        return new_state

    # -- WORKDIR, COPY/ADD, RUN -------------------------------------------------------------------

    def _workdir_layer(self, state: StageState, workdir: str, user: str = "") -> Callable[[], LayerRecord | None]:
        """The layer a WORKDIR makes; BuildKit makes the directory as the current ``user``."""
        def make() -> LayerRecord | None:
            plan = CopyPlan(self.views.view(state.diff_ids))
            resolved, _ = plan.resolve_dest(workdir)
            if not plan.is_directory(resolved):
                owner = ROOT_OWNER
                if user:
                    found = resolve_user(plan.image_root, user)
                    owner = (found.uid, found.gid)
                plan.add_directory(resolved, owner)
            return write_plan(self.store, plan, mtime_clamp=self.epoch)[0]

        return make

    def _container_layer(self, state: StageState, config: Mapping[str, Any]) -> Callable[[], LayerRecord | None]:
        """The layer of a classic-builder metadata step: docker commits it from a container it
        creates, and creating one makes a missing WorkingDir (root, 0755) and refuses a VOLUME
        over a file."""
        def make() -> LayerRecord | None:
            plan = CopyPlan(self.views.view(state.diff_ids))
            check_volumes(plan.image_root, config)
            if config.get("WorkingDir"):
                resolved, _ = plan.resolve_dest(str(config["WorkingDir"]))
                if not plan.is_directory(resolved):
                    plan.add_directory(resolved, ROOT_OWNER)
            return write_plan(self.store, plan, mtime_clamp=self.epoch)[0]

        return make

    def _copy(self, instruction: Copy | Add, state: StageState, after: ImageState) -> StageState:
        if isinstance(instruction, Add) and instruction.checksum:
            try:
                _check_add_checksum(instruction)
            except BuildError as exc:
                raise DockerfileError(str(exc), filename=self.filename, line=instruction.line) from None
        sources = self._sources(instruction, state)
        dest = instruction.dest
        if self.buildkit and dest in ("", "."):
            dest = "./"  # BuildKit: the working directory itself, as a directory
        # BuildKit copies each source in turn: into ``dest`` once it is a directory, else as it
        if not self.buildkit and len(sources) > 1 and not dest.endswith("/"):
            keyword = instruction.keyword.upper()
            raise BuildError(
                f"When using {keyword} with more than one source file, the destination must be a directory and end with a /"
            )
        workdir = str(state.config.get("WorkingDir") or "/")
        chmod = parse_chmod(instruction.chmod)
        unpack = isinstance(instruction, Add) and instruction.unpack is not False

        def make() -> tuple[LayerRecord | None, dict[str, str]]:
            plan = CopyPlan(self.views.view(state.diff_ids), keep_special_bits=self.buildkit,
                            chown_new_parents=self.buildkit)
            try:
                owner: tuple[int, int] | None = ROOT_OWNER
                if instruction.chown:
                    owner = lookup_owner(instruction.chown, plan.image_root)
                resolved, ends_in_slash = plan.resolve_dest(normalize_dest(workdir, dest))
                for source in sources:
                    source_owner = None if source.preserve_owner and not instruction.chown else owner
                    target, is_dir = resolved, ends_in_slash
                    if source.under:
                        target, is_dir = posixpath.join(resolved, source.under), True
                    plan.add(source, target, dest_is_dir=is_dir, owner=source_owner, mode=chmod,
                             unpack=unpack and source.local)
                return write_plan(self.store, plan, mtime_clamp=self.epoch)
            finally:
                plan.close()

        if self.options.no_cache:  # one pass over the files: their digests come from writing the layer
            layer, digests = make()
            self.digests.learn(digests)
            created_by = imageconfig.created_by(instruction, after, source_hash=source_checksum(sources, self.digests))
            return self._store_step(state, after, created_by, comment_command(after.config, created_by), layer)
        created_by = imageconfig.created_by(instruction, after, source_hash=source_checksum(sources, self.digests))
        return self._commit(state, after, created_by, comment_command(after.config, created_by), lambda: make()[0])

    def _sources(self, instruction: Copy | Add, state: StageState) -> list[Source]:
        """Every file or directory the instruction's sources name, in order."""
        excludes = PatternMatcher(instruction.exclude) if instruction.exclude else None
        tree: SourceTree = self.context
        local = True
        preserve = False
        if isinstance(instruction, Copy) and instruction.from_:
            tree = SourceTree(self.views.view(self._from_layers(instruction.from_, state)))
            local, preserve = False, True
        sources: list[Source] = []
        for heredoc in instruction.heredocs:
            sources.append(self._heredoc_source(heredoc.name, heredoc.text()))
        for written in instruction.sources:
            if _is_url(written):
                if isinstance(instruction, Copy):
                    raise BuildError("source can't be a URL for COPY")
                sources.append(self._url_source(written, instruction))
                continue
            for matched, resolved in tree.match(written):
                is_dir = stat.S_ISDIR(tree.lstat(resolved).st_mode)
                # --exclude drops matched files; a matched directory is still copied (made in the
                # destination, emptied of what the patterns exclude), as BuildKit's ADD --exclude=* dir* /6
                if excludes is not None and not is_dir and excludes.matches(matched):
                    continue
                name = posixpath.basename(matched) or posixpath.basename(resolved)
                under = ""
                if isinstance(instruction, Copy) and instruction.parents:
                    kept = _parents_path(written, matched)
                    under = kept if is_dir else posixpath.dirname(kept)
                sources.append(Source(tree, resolved, name, is_dir, local, preserve, under, excludes))
        return sources

    def _from_layers(self, name: str, state: StageState) -> tuple[str, ...]:
        index = self._earlier_stage(self.stages, self.current_stage, name, by_index=True)
        if index is not None and index in self.results:
            self.cache.materialize(self.results[index].image_id)
            return self.results[index].diff_ids
        if name.isdigit() and int(name) >= self.current_stage:  # docker's words for a stage not built yet
            where = "refers to current build stage" if int(name) == self.current_stage else "index out of bounds"
            raise BuildError(f"invalid from flag value {name}: {where}")
        try:
            image_id = self._image(name)
        except LaminaError as exc:
            raise BuildError(f"invalid from flag value {name}: {exc}") from None
        return base_state(self.store, image_id).diff_ids

    def _heredoc_source(self, name: str, content: str) -> Source:
        directory = Path(tempfile.mkdtemp(prefix="heredoc-", dir=self.workdir))
        path = directory / name
        path.write_text(content)
        path.chmod(0o644)
        return Source(SourceTree(directory), name, name, False, local=False)

    def _url_source(self, url: str, instruction: Add) -> Source:
        directory = Path(tempfile.mkdtemp(prefix="download-", dir=self.workdir))
        name = download(url, directory, checksum=instruction.checksum)
        return Source(SourceTree(directory), name, name, False, local=bool(instruction.unpack))

    def _run(self, instruction: Run, state: StageState, after: ImageState, stage_args: BuildArgs,
             env: Mapping[str, str]) -> StageState:
        history_args = stage_args.history_values(env)
        command = imageconfig.run_command(instruction, after.config, history_args,
                                          argv=run_argv(instruction, after.config)[0])
        created_by = " ".join(command)
        network = instruction.network if instruction.network != "default" else self.options.network

        def make() -> LayerRecord | None:
            run_state = state
            if self.buildkit and state.config.get("Volumes"):  # BuildKit keeps what RUN writes there
                run_state = msgspec.structs.replace(state, config={k: v for k, v in state.config.items() if k != "Volumes"})
            elif state.config.get("Volumes"):
                check_volumes(self.views.view(state.diff_ids), state.config)
            request = RunRequest(
                store=self.store, instruction=instruction, state=run_state, build_args=stage_args.visible(env),
                network=network, secrets=self.options.secrets, context_dir=self._bind_context(instruction),
                stage_layers=lambda name: self._from_layers(name, state), emit=self.emit, filename=self.filename,
                host_config=self.options.run_host_config, mtime_clamp=self.epoch,
            )
            return execute_run(request).layer

        return self._commit(state, after, created_by, command, make, self._bind_digest(instruction, state))

    def _bind_context(self, instruction: Run) -> Path:
        """What a context bind mount shows: the context after .dockerignore (laid out once)."""
        if not any(mount.type == "bind" and not mount.from_ for mount in instruction.mounts):
            return self.options.context_dir
        if self.bind_root is None:
            self.bind_root = bind_context_root(self.context, self.workdir / "bind-context")
        return self.bind_root

    def _bind_digest(self, instruction: Run, state: StageState) -> str:
        """What ``RUN --mount=type=bind`` reads: the context files' checksum, or the stage's layers
        (as BuildKit, a changed mounted file runs the step again; cache and secret mounts do not)."""
        parts = []
        for mount in instruction.mounts:
            if mount.type != "bind":
                continue
            if mount.from_:
                parts.append(",".join(self._from_layers(mount.from_, state)))
                continue
            try:
                matched = self.context.match(mount.source or ".")
            except ContextError:
                continue  # the step reports the missing source itself
            parts += [source_checksum([Source(self.context, rel, rel, stat.S_ISDIR(os.stat(
                self.context.host_path(rel)).st_mode))], self.digests) for _, rel in matched]
        return "\0mounts:" + ";".join(parts) if parts else ""

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        self.emit(BuildWarning(text))


def source_date_epoch(build_args: Mapping[str, str | None]) -> int | None:
    """The ``SOURCE_DATE_EPOCH`` build arg as whole seconds (None when unset or empty).

    It fixes the build's timestamps: config and history ``created``, and every mtime in the
    layers the build writes is clamped to it (BuildKit's ``rewrite-timestamp``)."""
    value = build_args.get("SOURCE_DATE_EPOCH")
    if value is None or not value.strip():
        return None
    try:
        epoch = int(value.strip())
    except ValueError:
        raise BuildError(f"invalid SOURCE_DATE_EPOCH {value!r}: want whole seconds since 1970") from None
    if not 0 <= epoch < 1 << 33:  # a tar header's 11 octal digits hold mtimes below 2**33
        raise BuildError(f"invalid SOURCE_DATE_EPOCH {value!r}: out of range")
    return epoch


def _parse_tag(tag: str) -> Reference:
    try:
        ref = parse_reference(tag)
    except InvalidReferenceError:
        raise BuildError(f'invalid argument "{tag}" for "-t, --tag" flag: invalid reference format') from None
    if ref.digest is not None:
        raise BuildError(f'invalid argument "{tag}" for "-t, --tag" flag: a tag cannot hold a digest')
    return ref


def check_volumes(image_root: Path, config: Mapping[str, Any]) -> None:
    """docker will not create a container whose VOLUME path is a file in the image (a symlink
    to one included); a missing path or a directory is fine."""
    for volume in config.get("Volumes") or {}:
        resolved = resolve_in_context(image_root, posixpath.normpath("/" + volume))
        host = image_root / resolved if resolved != "." else image_root
        if os.path.lexists(host) and not host.is_dir():
            raise BuildError(f"cannot mount volume over existing file, file exists {host}")


def _target_index(dockerfile: Dockerfile, target: str) -> int:
    """``--target`` names a stage (any case); unlike ``--from``, never an index, as in docker."""
    for stage in dockerfile.stages:
        if stage.name == target.lower():
            return stage.index
    raise BuildError(f"failed to reach build target {target} in Dockerfile")


def _check_add_checksum(instruction: Add) -> None:
    """``ADD --checksum`` verifies one download: BuildKit refuses it for several sources and for
    a local file (there is nothing fetched to verify), in these words."""
    if len(instruction.sources) + len(instruction.heredocs) != 1:
        raise BuildError("checksum can't be specified for multiple sources")
    if not instruction.sources or not _is_url(instruction.sources[0]):
        raise BuildError("checksum requires HTTP(S) or Git sources")


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _parents_path(written: str, matched: str) -> str:
    """``COPY --parents``: the path kept under the destination (after a ``/./`` pivot, if any)."""
    pivot = written.find("/./")
    if pivot == -1:
        return posixpath.normpath(matched)
    depth = len([part for part in posixpath.normpath(written[:pivot]).split("/") if part not in ("", ".")])
    return "/".join(matched.split("/")[depth:])

