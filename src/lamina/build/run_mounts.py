"""``RUN --mount``: turning BuildKit's mount types into runtime mounts for one step.

- ``cache``: a directory that outlives builds, ``<store>/cache-mounts/<sha256 of id>``
  (``id`` defaults to the target). First use creates it with ``mode``/``uid``/``gid``
  (0755 root). ``sharing=shared`` (default) lets steps use it at once, ``locked`` waits for
  the others, ``private`` gets a throw-away directory while another step holds it.
- ``secret``: the ``--secret`` file (by ``id``, default: the target's base name) copied into
  the container's scratch dir with ``mode`` (0400) and ``uid``/``gid`` (0) and bound read-only
  at ``target`` (default ``/run/secrets/<id>``); ``env=NAME`` exposes it as a variable
  instead of (or, with a target, besides) the file. A missing secret is skipped unless
  ``required``. Secrets never reach the layer: mount stubs are dropped from the diff.
- ``bind``: a path of the build context, or of a stage or image (``from``), read-only; with
  ``rw`` the step writes to a scratch copy that is thrown away.
- ``tmpfs``: an empty tmpfs (``size``).
- ``ssh``: not supported (no agent forwarding).

Everything staged lives in the container's scratch dir, so a crash leaves nothing behind
that ``cleanup_stale`` does not remove.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import posixpath
import shutil
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

from lamina.build.dockerfile.mounts import Mount as MountRequest
from lamina.errors import BuildError
from lamina.runtime.mounts import mount_view
from lamina.runtime.spec import Mount
from lamina.runtime.users import resolve_in_root
from lamina.store.snapshots import Snapshots
from lamina.store.store import Store

__all__ = ["RunMounts"]


class RunMounts:
    """The mounts of one RUN; holds cache locks until closed (use it as a context manager).

    Errors are BuildErrors without a location: the executor adds the Dockerfile line.
    """

    def __init__(
        self,
        store: Store,
        requests: Sequence[MountRequest],
        *,
        secrets: Mapping[str, Path],
        context_dir: Path | None,
        stage_layers: Callable[[str], tuple[str, ...]] | None,
    ):
        self.store = store
        self.requests = list(requests)
        self.secrets = secrets
        self.context_dir = context_dir
        self.stage_layers = stage_layers
        self._exit = ExitStack()

    def __enter__(self) -> RunMounts:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._exit.close()

    def secret_env(self) -> list[str]:
        """``NAME=value`` for secret mounts with ``env=NAME`` (never written to the image)."""
        env = []
        for request in self.requests:
            if request.type == "secret" and request.env:
                source = self._secret_source(request)
                if source is not None:
                    env.append(f"{request.env}={source.read_text(errors='surrogateescape')}")
        return env

    def prepare(self, scratch: Path) -> list[Mount]:
        """Stage every mount (``scratch`` is the container's private dir); sorted by depth."""
        mounts: list[Mount] = []
        for index, request in enumerate(self.requests):
            staging = scratch / f"m{index}"
            mount = getattr(self, f"_{request.type}")(request, staging)
            if mount is not None:
                mounts.append(mount)
        return sorted(mounts, key=lambda m: posixpath.normpath(m.destination).count("/"))

    # -- per type ----------------------------------------------------------------------------

    def _cache(self, request: MountRequest, staging: Path) -> Mount:
        target = self._target(request)
        if request.from_ or request.source:
            raise BuildError("cache mounts with from/source are not supported")
        cache_id = request.cache_id or target
        if (request.uid, request.gid, request.mode) != (None, None, None):  # BuildKit: another base, another cache
            cache_id += f"\0{request.uid or 0}:{request.gid or 0}:{request.mode if request.mode is not None else 0o755:o}"
        root = Path(self.store.root) / "cache-mounts"
        directory = root / hashlib.sha256(cache_id.encode()).hexdigest()
        if not directory.is_dir():
            self._create_cache(directory, request)
        lock_fd = os.open(f"{directory}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        self._exit.callback(os.close, lock_fd)
        sharing = request.sharing or "shared"
        if sharing == "locked":
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        elif sharing == "private":
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                directory = staging  # in use: this step gets its own, discarded afterwards
                self._create_cache(directory, request)
        else:
            fcntl.flock(lock_fd, fcntl.LOCK_SH)
        return Mount.bind(directory, target, read_only=request.read_only)

    def _secret(self, request: MountRequest, staging: Path) -> Mount | None:
        source = self._secret_source(request)
        if source is None or (request.env and not request.target):
            return None
        secret_id = _secret_id(request)
        staging.mkdir(mode=0o700)
        copy = staging / "secret"
        shutil.copyfile(source, copy)
        os.chown(copy, request.uid or 0, request.gid or 0)
        os.chmod(copy, 0o400 if request.mode is None else request.mode)
        target = request.target or f"/run/secrets/{secret_id}"
        return Mount.bind(copy, _absolute(target), read_only=True)

    def _bind(self, request: MountRequest, staging: Path) -> Mount:
        target = self._target(request)
        root = self._bind_root(request.from_, staging)
        source = resolve_in_root(os.fspath(root), request.source or "/")
        if source is None or not os.path.lexists(source):
            raise BuildError(f"bind mount source {request.source or '/'!r} not found"
                             + (f" in {request.from_}" if request.from_ else " in the build context"))
        if request.read_only:
            return Mount.bind(source, target, read_only=True)
        copy = staging / "rw"
        staging.mkdir(exist_ok=True)
        if os.path.isdir(source):
            shutil.copytree(source, copy, symlinks=True)
        else:
            shutil.copy2(source, copy)
        return Mount.bind(copy, target, read_only=False)

    def _tmpfs(self, request: MountRequest, staging: Path) -> Mount:
        return Mount.tmpfs(self._target(request), size_bytes=request.size_limit)

    def _ssh(self, request: MountRequest, staging: Path) -> Mount:
        raise BuildError("RUN --mount=type=ssh is not supported")

    # -- helpers -----------------------------------------------------------------------------

    def _target(self, request: MountRequest) -> str:
        if not request.target:
            raise BuildError(f"{request.type} mount needs a target")
        return _absolute(request.target)

    def _secret_source(self, request: MountRequest) -> Path | None:
        secret_id = _secret_id(request)
        if not secret_id:
            raise BuildError("secret mount needs an id or a target")
        source = self.secrets.get(secret_id)
        if source is None or not Path(source).is_file():
            if request.required:
                raise BuildError(f"secret {secret_id} not found "
                                 f"(pass it with --secret id={secret_id},src=FILE)")
            return None
        return Path(source)

    def _bind_root(self, from_: str, staging: Path) -> Path:
        if not from_:
            if self.context_dir is None:
                raise BuildError("bind mount without a build context")
            return Path(os.path.abspath(self.context_dir))  # runc takes a relative source as the bundle's
        if self.stage_layers is None:
            raise BuildError(f"bind mount from {from_!r}: no such stage or image")
        diff_ids = self.stage_layers(from_)
        lowers = Snapshots(self.store).lower_dirs(list(diff_ids))
        return mount_view(staging / "view", lowers)

    @staticmethod
    def _create_cache(directory: Path, request: MountRequest) -> None:
        directory.parent.mkdir(parents=True, exist_ok=True)
        temporary = directory.with_name(directory.name + f".new-{os.getpid()}")
        temporary.mkdir(mode=0o755 if request.mode is None else request.mode)
        os.chmod(temporary, 0o755 if request.mode is None else request.mode)
        os.chown(temporary, request.uid or 0, request.gid or 0)
        try:
            os.rename(temporary, directory)
        except OSError:  # made by a concurrent step first
            temporary.rmdir()


def _secret_id(request: MountRequest) -> str:
    return request.cache_id or posixpath.basename(request.target.rstrip("/"))


def _absolute(target: str) -> str:
    return posixpath.normpath(posixpath.join("/", target))
