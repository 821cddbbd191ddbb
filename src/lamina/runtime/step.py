"""Run one process on top of an image's layers and take what it changed as a new layer.

This is a RUN step (and, later, ``lamina run --rm``): the image's snapshots are the overlayfs
lower dirs, a fresh upper dir takes the writes, runc runs the process, and the upper dir
becomes the layer diff (where overlayfs cannot be mounted, the rootfs is a private copy diffed
against a record of it instead: ``lamina.runtime.copyroot``). Everything a step needs lives in one container dir,
``<store>/runtime/ephemeral/<id>`` (see ``lamina.runtime.mounts``), held under an flock by the
process running it. A process that dies (SIGKILL, power loss) leaves that dir unlocked:
:func:`cleanup_stale` kills what is left of its container, unmounts and deletes it; every
``run_in_snapshot`` calls it once per store and process.

The caller holds ``store.lease()`` from the first step until the image is recorded, so a
concurrent prune does not take the layers committed here.
"""

from __future__ import annotations

import os
import secrets
import selectors
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina.errors import RuntimeError_
from lamina.layer.contentsize import SizingWriter
from lamina.layer.overlaydiff import SnapshotFixups, upper_to_snapshot, write_overlay_diff
from lamina.layer.overlaylookup import is_opaque, lower_entry
from lamina.layer.sink import ThreadedSink
from lamina.oci import mediatypes as mt
from lamina.oci.identity import chain_id
from lamina.runtime import copyroot
from lamina.runtime.copyroot import CopyRecord
from lamina.runtime.lockeddirs import abandoned, create_locked_dir, remove_abandoned_staging
from lamina.runtime.markers import add_markers
from lamina.runtime.mounts import OverlayDirs, mount_overlay, remove_container_dir, unmount
from lamina.runtime.network import NETWORK_MODES, container_hostname, write_etc_files
from lamina.runtime.runc import Runc
from lamina.runtime.spec import Mount, ProcessSpec, Resources, container_env, runtime_spec, write_config
from lamina.runtime.users import resolve_in_root, resolve_user
from lamina.store.snapshots import Snapshots
from lamina.store.store import LayerRecord, Store

__all__ = ["EMPTY_LAYER_DIFF_ID", "StepResult", "cleanup_stale", "commit_step", "commit_upper", "run_in_snapshot",
           "runc_for"]

# sha256 of a tar with no members (two zero blocks): what docker records for a step that
# changed nothing.
EMPTY_LAYER_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
_EMPTY_TAR_SIZE = 1024

_cleaned_roots: set[str] = set()
_cleaned_lock = threading.Lock()


@dataclass(slots=True)
class StepResult:
    """How a step ended and where its changes are; ``discard()`` (or ``with``) removes them.

    With the copying snapshotter ``upper_dir`` is the whole rootfs and ``copy`` its record from
    before the run (``commit_step`` takes either kind).
    """

    exit_code: int
    upper_dir: Path
    lowers: list[Path]
    container_id: str
    seconds: float
    _base: Path = field(repr=False)
    _lock_fd: int | None = field(default=None, repr=False)
    copy: CopyRecord | None = None

    def discard(self) -> None:
        if self._lock_fd is None:
            return
        remove_container_dir(self._base)
        os.close(self._lock_fd)
        self._lock_fd = None

    def __enter__(self) -> StepResult:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


def run_in_snapshot(
    store: Store,
    diff_ids: Sequence[str],
    process: ProcessSpec,
    *,
    network: str = "host",
    mounts: Sequence[Mount] = (),
    timeout: float | None = None,
    output: Callable[[bytes], None] | None = None,
    resources: Resources | None = None,
    prepare_mounts: Callable[[Path], Sequence[Mount]] | None = None,
    volumes: Sequence[str] = (),
    container_id: str | None = None,
    host_config: Mapping[str, Any] | None = None,
) -> StepResult:
    """Run ``process`` in a container whose rootfs is the layers ``diff_ids`` plus a fresh upper.

    ``process.env`` is the image's env (plus build args); ``PATH``/``HOSTNAME``/``HOME`` are
    added like docker. ``output`` receives the container's stdout and stderr, interleaved, as
    they come. After ``timeout`` seconds the container is killed (exit code 137).
    ``prepare_mounts`` is called with a private scratch dir inside the container dir (removed
    with it, even after a crash) to stage what it mounts there (secrets, scripts, copies,
    read-only views); its mounts follow ``mounts``. Mount points that only the mounts needed
    are removed from the upper dir. ``volumes`` (the image's ``VOLUME`` paths) each get an
    anonymous volume seeded with the image's content there, as docker does for every container:
    what the process writes there is discarded, the mount point itself stays in the diff.
    ``network`` ``default`` runs in the host's namespace but with its own hostname (the short
    ID) and docker's default ``/etc/hosts``, as docker's RUN on its default bridge looks.
    ``host_config`` holds docker's HostConfig fields of ``docker build --add-host --ulimit
    --shm-size --security-opt`` (``runtime.hostflags``).
    Ctrl-C or SIGTERM kill the container and remove everything before the exception goes on.
    Raises RuntimeError_ if the container cannot be started (runc's reason in one line).
    """
    if network not in NETWORK_MODES:
        raise RuntimeError_(f"network mode {network!r} is not supported for RUN (use default, host or none)")
    store_root = Path(store.root)
    runc = runc_for(store_root)
    cleanup_stale(store_root, runc, once=True)
    copying = copyroot.snapshotter_for(store_root).name == "copy"
    lowers = [] if copying else Snapshots(store).lower_dirs(list(diff_ids))

    container_id = container_id or secrets.token_hex(32)
    base = _ephemeral_root(store_root) / container_id
    lock_fd = create_locked_dir(base)
    if not copying:  # docker's init layer: /.dockerenv and /etc/mtab, seen but never committed
        (base / "init").mkdir()
        add_markers(base / "init", lowers)
        lowers = [base / "init", *lowers]
    result = StepResult(-1, base / "upper", lowers, container_id, 0.0, base, lock_fd)
    started = time.monotonic()
    try:
        with _sigterm_raises():
            scratch = base / "scratch"
            scratch.mkdir(mode=0o700)
            if prepare_mounts is not None:
                mounts = [*mounts, *prepare_mounts(scratch)]
            if copying:
                dirs = OverlayDirs(base)
                dirs.rootfs.mkdir()
                result.upper_dir = dirs.rootfs
                copyroot.populate(store, diff_ids, dirs.rootfs)
            else:
                # Volatile: the upper dir is never mounted again, and a step's fsyncs (dpkg makes
                # many) protect nothing a crash would not discard anyway; unmounting skips syncfs.
                dirs = mount_overlay(base, lowers, volatile=True)
            try:
                volume_mounts = _anonymous_volumes(dirs.rootfs, scratch / "volumes", volumes)
                all_mounts = sorted([*volume_mounts, *mounts], key=lambda m: _depth(m.destination))
                before_start = None
                if copying:
                    def before_start(spec: dict) -> None:
                        copyroot.prepare_mountpoints(dirs.rootfs, spec, [mount.destination for mount in volume_mounts])
                        add_markers(dirs.rootfs)  # before the record: not part of the diff
                        result.copy = copyroot.record(dirs.rootfs)
                result.exit_code = _run(runc, dirs, container_id, process, network, all_mounts, resources,
                                        timeout, output, before_start, host_config)
            finally:
                if not copying:
                    unmount(dirs.rootfs)
            if not copying:
                remove_mount_stubs(dirs.upper, lowers, [mount.destination for mount in mounts])
    except BaseException:
        result.discard()
        raise
    result.seconds = time.monotonic() - started
    return result


def commit_step(store: Store, result: StepResult, *, keep_empty: bool = False,
                snapshot_below: Sequence[str] | None = None, mtime_clamp: int | None = None) -> LayerRecord | None:
    """``commit_upper`` for a step of either snapshotter (a copied rootfs is never adopted)."""
    if result.copy is None:
        return commit_upper(store, result.upper_dir, result.lowers, keep_empty=keep_empty,
                            snapshot_below=snapshot_below, mtime_clamp=mtime_clamp)
    record_ = result.copy
    return _commit_tar(store, lambda sink: copyroot.write_copy_diff(result.upper_dir, record_, sink,
                                                                    mtime_clamp=mtime_clamp), keep_empty)


def commit_upper(store: Store, upper: Path, lowers: Sequence[Path], *, keep_empty: bool = False,
                 snapshot_below: Sequence[str] | None = None, mtime_clamp: int | None = None) -> LayerRecord | None:
    """Store the changes in ``upper`` as an uncompressed layer blob (diffID = digest).

    Returns None when nothing changed (the classic builder then records ``empty_layer``), unless
    ``keep_empty``: then the empty tar is a layer too, as BuildKit makes one for every RUN. The
    record is added to the store's layer table. ``snapshot_below`` (the diffIDs under the new
    layer) hands the upper dir over as the new layer's snapshot, so the next step need not
    unpack it; only for an upper dir nothing uses any more (a finished RUN step). ``mtime_clamp``
    (SOURCE_DATE_EPOCH) caps the mtimes in the tar; the upper dir is then not adopted.
    """
    fixups = SnapshotFixups() if snapshot_below is not None else None
    record = _commit_tar(store, lambda sink: write_overlay_diff(upper, sink, lowers=lowers, fixups=fixups,
                                                                mtime_clamp=mtime_clamp),
                         keep_empty)
    if record is not None and fixups is not None and fixups.adoptable:
        _adopt_upper(store, upper, fixups, chain_id([*snapshot_below, record.diff_id]))
    return record


def _commit_tar(store: Store, write: Callable[[ThreadedSink], None], keep_empty: bool) -> LayerRecord | None:
    """Store the tar ``write`` makes as a plain layer blob; None for an empty one unless ``keep_empty``."""
    with store.content.writer() as writer:
        counted = SizingWriter(writer)  # docker's size of the layer, learnt on the sink's thread
        with ThreadedSink(counted) as sink:  # hashing and storing overlap the walk
            write(sink)
        if writer.hasher.size == _EMPTY_TAR_SIZE and not keep_empty:
            return None  # the writer's exit discards the temp file
        digest, size = writer.commit("layer")
    record = LayerRecord(diff_id=digest, blob_digest=digest, media_type=mt.DOCKER_LAYER, blob_size=size,
                         diff_size=counted.size_or(size))
    store.add_layer_record(record)
    return record


def _adopt_upper(store: Store, upper: Path, fixups: SnapshotFixups, chain: str) -> None:
    """Make ``upper`` the snapshot of ``chain``; on any failure the layer is simply unpacked later."""
    snapshots = Snapshots(store)
    if snapshots.path(chain).is_dir():
        return
    try:
        upper_to_snapshot(upper, fixups)
        snapshots.adopt(chain, upper)
    except OSError:
        pass  # the upper dir goes with its container dir


def cleanup_stale(store_root: Path, runc: Runc | None = None, *, once: bool = False) -> int:
    """Remove containers of processes that died: kill, delete, unmount, rm. Returns how many.

    A container dir whose flock nobody holds belongs to no live process. Safe to call while
    other processes run steps on the same store: their dirs are locked.
    """
    key = os.path.abspath(store_root)
    if once:
        with _cleaned_lock:
            if key in _cleaned_roots:
                return 0
            _cleaned_roots.add(key)
    ephemeral = _ephemeral_root(Path(store_root))
    if not ephemeral.is_dir():
        return 0
    removed = 0
    for base in ephemeral.iterdir():
        if base.name.startswith("."):
            remove_abandoned_staging(base)
            continue
        with abandoned(base) as gone:
            if not gone:
                continue
            if runc is None:
                runc = runc_for(Path(store_root))
            runc.kill_and_delete(base.name)
            if remove_container_dir(base):
                removed += 1
    return removed


def runc_for(store_root: Path) -> Runc:
    return Runc(Path(store_root) / "runtime" / "runc")


def remove_mount_stubs(upper: Path, lowers: Sequence[Path], destinations: Sequence[str]) -> None:
    """Drop what the runtime created in ``upper`` only to mount over (like BuildKit does).

    A destination absent from the image that is now an empty file or dir in ``upper`` is a
    stub; so are parents made for it (new and empty) or copied up only because of it (same
    mode and owner as below, nothing else inside).
    """
    for destination in sorted(set(destinations), key=lambda d: -d.count("/")):
        rel = os.path.normpath("/" + destination).lstrip("/")
        if not rel:
            continue
        path = upper / rel
        if _lower_lstat(lowers, rel) is not None or not _is_empty_stub(path):
            continue
        _remove(path)
        parent = os.path.dirname(rel)
        while parent:
            parent_path = upper / parent
            if not _is_empty_stub(parent_path) or is_opaque(parent_path):
                break
            below = _lower_lstat(lowers, parent)
            if below is not None:
                st = os.lstat(parent_path)
                same = (stat.S_ISDIR(below.st_mode) and stat.S_IMODE(below.st_mode) == stat.S_IMODE(st.st_mode)
                        and (below.st_uid, below.st_gid) == (st.st_uid, st.st_gid))
                if not same:
                    break
            _remove(parent_path)
            parent = os.path.dirname(parent)


# -- internals ---------------------------------------------------------------------------------


def _run(runc: Runc, dirs: OverlayDirs, container_id: str, process: ProcessSpec, network: str,
         mounts: Sequence[Mount], resources: Resources | None, timeout: float | None,
         output: Callable[[bytes], None] | None, before_start: Callable[[dict], None] | None = None,
         host_config: Mapping[str, Any] | None = None) -> int:
    user = resolve_user(dirs.rootfs, process.user)
    hostname = container_hostname(network, container_id)
    etc_files = write_etc_files(dirs.base / "etc", network, hostname)
    env = container_env(process.env, hostname=hostname, home=user.home)
    spec = runtime_spec(
        rootfs=dirs.rootfs.resolve(),
        process=ProcessSpec(args=process.args, env=env, cwd=process.cwd or "/", user=process.user,
                            terminal=False),
        user=user, hostname=hostname, network="none" if network == "none" else "host", etc_files=etc_files,
        mounts=mounts, resources=resources,
    )
    if host_config:
        from lamina.runtime.hostflags import apply_to_spec, rewrite_etc_files

        rewrite_etc_files(dirs.base / "etc", host_config)
        apply_to_spec(spec, host_config, dirs.rootfs)
    write_config(dirs.base, spec)
    if before_start is not None:
        before_start(spec)
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        proc = runc.start(dirs.base, container_id, stdout=write_fd, stderr=write_fd)
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        raise
    os.close(write_fd)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        if _pump(read_fd, output, deadline):
            runc.kill(container_id, "KILL")  # timed out
        return runc.wait(proc, dirs.base)  # ``runc run`` deletes the container as it exits
    except BaseException:
        runc.kill_and_delete(container_id)
        proc.kill()
        proc.wait()
        raise
    finally:
        os.close(read_fd)


def _anonymous_volumes(rootfs: Path, directory: Path, volumes: Sequence[str]) -> list[Mount]:
    """A fresh directory per ``VOLUME``, holding a copy of what the image has there (``cp -a``)."""
    mounts = []
    for index, destination in enumerate(dict.fromkeys(volumes)):
        rel = os.path.normpath("/" + destination).lstrip("/")
        if not rel:
            continue
        source = directory / str(index)
        source.mkdir(parents=True)
        existing = resolve_in_root(os.fspath(rootfs), rel)
        if existing is not None and os.path.isdir(existing):
            copied = subprocess.run(["cp", "-a", "--", f"{existing}/.", f"{source}/"], capture_output=True, text=True)
            if copied.returncode != 0:
                raise RuntimeError_(f"cannot populate the volume at {destination}: {copied.stderr.strip()}")
        elif existing is not None and os.path.lexists(existing):
            continue  # docker refuses a volume over a file; the path just stays as it is
        mounts.append(Mount.bind(source, "/" + rel, read_only=False))
    return mounts


def _depth(destination: str) -> int:
    return os.path.normpath("/" + destination).count("/")


def _pump(read_fd: int, output: Callable[[bytes], None] | None, deadline: float | None) -> bool:
    """Copy the container's output to ``output`` until EOF; True if ``deadline`` passed first."""
    with selectors.DefaultSelector() as selector:
        selector.register(read_fd, selectors.EVENT_READ)
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not selector.select(wait):
                return True
            chunk = os.read(read_fd, 65536)
            if not chunk:
                return False
            if output is not None:
                output(chunk)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143) while a container runs, so clean-up code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ephemeral_root(store_root: Path) -> Path:
    return store_root / "runtime" / "ephemeral"


def _is_empty_stub(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if stat.S_ISREG(st.st_mode):
        return st.st_size == 0
    if stat.S_ISDIR(st.st_mode):
        return not any(os.scandir(path))
    return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        path.rmdir()
    else:
        path.unlink()


def _lower_lstat(lowers: Sequence[Path], rel: str) -> os.stat_result | None:
    entry = lower_entry(lowers, rel)
    return None if entry is None else entry[1]
