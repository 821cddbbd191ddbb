"""``docker cp``: files between a container and the host, or a tar stream.

Everything that touches the container's filesystem runs in a forked child that first
``chroot``\\ s into the container's root: the live one (``/proc/PID/root``, with its volumes and
tmpfs mounts) when it runs, else a temporary mount of its rootfs. Every path, symlinks included,
is then resolved by the kernel as the container sees it, so nothing a container put there (``..``,
absolute links, races) can lead a read or a write outside it. The child imports nothing after
the chroot (its module path is emptied), and never looks names up (no NSS inside the container):
owners are numeric.

Between the two sides goes a tar stream whose top entry is the source's base name; the
receiving side applies docker's rules for where it lands (``SRC/.`` copies a directory's
contents; an existing directory receives the source by name; otherwise the source takes the
destination's name).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import posixpath
import stat
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lamina.errors import ConflictError, LaminaError, RuntimeError_
from lamina.runtime.containers import Container, ContainerStore

__all__ = ["CopyError", "copy_from_container", "copy_to_container"]

_CHUNK = 1 << 16


class CopyError(LaminaError):
    """A source or destination that docker's ``cp`` rules refuse."""


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a tar stream lands: into ``directory``; its top entry renamed to ``rename`` (or,
    with ``contents_only``, dropped so that only what is below it is written)."""

    directory: str
    rename: str | None = None
    contents_only: bool = False


def copy_from_container(containers: ContainerStore, container: Container, source: str,
                        destination: str | BinaryIO, *, follow_link: bool = False) -> None:
    """``docker cp CTR:SRC DEST``; DEST is a host path, or a binary stream for ``-`` (a tar)."""
    source = posixpath.join("/", source)
    with _container_root(containers, container) as root:
        if not isinstance(destination, str):
            _in_root(root, lambda: _write_tar(source, os.dup(destination.fileno()), follow_link,
                                              container_name=container.name), "read")
            return
        read_fd, write_fd = os.pipe()
        try:
            child = _spawn_in_root(root, lambda: _write_tar(source, write_fd, follow_link,
                                                            container_name=container.name))
        finally:
            os.close(write_fd)
        try:
            with os.fdopen(read_fd, "rb") as stream:
                _receive(stream, destination, source, own=(os.getuid(), os.getgid()), where="")
        except (tarfile.TarError, CopyError, OSError) as exc:
            _wait_child(child, f"{container.name}:{source}")  # the sender's error, if it failed first
            if isinstance(exc, LaminaError):
                raise
            raise CopyError(_os_message(exc)) from None
        _wait_child(child, f"{container.name}:{source}")


def copy_to_container(containers: ContainerStore, container: Container, source: str | BinaryIO,
                      destination: str, *, archive: bool = False, follow_link: bool = False) -> None:
    """``docker cp SRC CTR:DEST``; SRC is a host path, or a binary stream for ``-`` (a tar of
    what goes into the directory DEST). Files belong to root unless ``archive`` keeps owners."""
    if container.host_config.get("ReadonlyRootfs"):
        raise CopyError("container rootfs is marked read-only")
    destination = posixpath.join("/", destination)
    owner = None if archive else (0, 0)
    if isinstance(source, str):
        if not os.path.lexists(source):
            raise CopyError(f"lstat {os.path.abspath(source)}: no such file or directory")
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child_exit(lambda: _write_tar(source, write_fd, follow_link, host=True))
        os.close(write_fd)
        try:
            with _container_root(containers, container) as root:
                _in_root(root, lambda: _receive(os.fdopen(read_fd, "rb"), destination, source, own=owner,
                                                where=f"{container.name}:"), "write")
        finally:
            os.close(read_fd)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        return
    stream_fd = os.dup(source.fileno())
    with _container_root(containers, container) as root:
        _in_root(root, lambda: _receive_contents(os.fdopen(stream_fd, "rb"), destination, owner,
                                                 f"{container.name}:"), "write")


# -- the container's root ----------------------------------------------------------------------


@contextlib.contextmanager
def _container_root(containers: ContainerStore, container: Container) -> Iterator[str]:
    container = containers.refresh(container)
    if container.running and container.pid:
        yield f"/proc/{container.pid}/root"
        return
    from lamina.runtime.lifecycle import _rootfs

    try:
        with _rootfs(containers, container, with_mounts=True) as rootfs:
            yield os.fspath(rootfs)
    except ConflictError:
        raise ConflictError(f"container {container.name} is starting; try again") from None


def _in_root(root: str, work: Callable[[], None], what: str) -> None:
    """Run ``work`` chrooted into ``root`` in a child; its error becomes ours."""
    _wait_child(_spawn_in_root(root, work), what)


def _spawn_in_root(root: str, work: Callable[[], None]) -> tuple[int, int]:
    report_read, report_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(report_read)

        def chrooted() -> None:
            sys.path[:] = []  # whatever the container put there can never be imported
            sys.path_hooks.clear()
            sys.path_importer_cache.clear()
            tarfile.pwd = tarfile.grp = None  # no NSS modules loaded from the container
            os.chroot(root)
            os.chdir("/")
            work()

        _child_exit(chrooted, report_write)
    os.close(report_write)
    return pid, report_read


def _wait_child(child: tuple[int, int], what: str) -> None:
    pid, report_fd = child
    with os.fdopen(report_fd, "rb") as report:
        message = report.read()
    _, status = os.waitpid(pid, 0)
    if message:
        raise CopyError(json.loads(message)["error"])
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError_(f"copying failed ({what})")


def _child_exit(work: Callable[[], None], report_fd: int | None = None) -> None:
    """In a forked child: run ``work``, report an error as JSON, never return."""
    code = 0
    try:
        work()
    except BaseException as exc:  # noqa: BLE001 - everything must be reported, nothing may escape
        code = 1
        if report_fd is not None:
            text = exc.args[0] if isinstance(exc, LaminaError) else _os_message(exc)
            with contextlib.suppress(OSError):
                os.write(report_fd, json.dumps({"error": text}).encode())
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
    os._exit(code)


def _os_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


# -- sending: a tar whose top entry is the source ------------------------------------------------


def _write_tar(source: str, fd: int, follow_link: bool, *, host: bool = False, container_name: str = "") -> None:
    """Write ``source`` (a file, link or tree) as an uncompressed tar to ``fd``."""
    path = source.rstrip("/") or "/"
    if path.endswith("/."):
        path = path[:-2] or "/"
    try:
        st = os.stat(path) if follow_link else os.lstat(path)
    except FileNotFoundError:
        if host:
            raise CopyError(f"lstat {os.path.abspath(source)}: no such file or directory") from None
        raise CopyError(f"Could not find the file {source} in container {container_name}") from None
    if source.endswith("/") and not stat.S_ISDIR(st.st_mode):
        raise CopyError(f"{source}: not a directory")
    name = posixpath.basename(path) or "."
    with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.dereference = follow_link
        top = tar.gettarinfo(path, arcname=name)
        if follow_link and top.issym():
            top = tar.gettarinfo(os.path.realpath(path), arcname=name)
        _add(tar, path, top)
        if top.isdir():
            for directory, dirs, files in os.walk(path):
                dirs.sort()
                for entry in sorted(dirs + files):
                    full = os.path.join(directory, entry)
                    arcname = posixpath.join(name, os.path.relpath(full, path))
                    _add(tar, full, tar.gettarinfo(full, arcname=arcname))


def _add(tar: tarfile.TarFile, path: str, info: tarfile.TarInfo) -> None:
    info.uname = info.gname = ""
    if info.isreg():
        with open(path, "rb") as data:
            tar.addfile(info, data)
    else:
        tar.addfile(info)


# -- receiving: docker's rules for where the source lands -----------------------------------------


class _Prepended:
    """A stream with bytes already read put back in front (tarfile reads it as a stream)."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head, self.stream = head, stream

    def read(self, size: int = -1) -> bytes:
        head, self.head = self.head, b""
        if size < 0:
            return head + self.stream.read()
        return head + self.stream.read(size - len(head)) if size > len(head) else head


def _receive(stream: BinaryIO, destination: str, source: str, *, own: tuple[int, int] | None, where: str) -> None:
    """Extract a tar from :func:`_write_tar` at ``destination`` by docker's rules."""
    with stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        members = iter(tar)
        top = next(members, None)
        if top is None:
            return
        target = _target(top, destination, source, where)
        _extract(tar, [top], members, target, own)


def _receive_contents(stream: BinaryIO, destination: str, own: tuple[int, int] | None, where: str) -> None:
    """``cp - CTR:DIR``: a tar whose entries go into the existing directory ``destination``."""
    if not os.path.isdir(destination):
        raise CopyError(f'destination "{where}{destination}" must be a directory')
    with stream:
        first = stream.read(1)
        if not first:
            return  # docker: an empty stream copies nothing
        with tarfile.open(fileobj=_Prepended(first, stream), mode="r|") as tar:
            _extract(tar, [], iter(tar), _Target(destination), own)


def _target(top: tarfile.TarInfo, destination: str, source: str, where: str) -> _Target:
    wants_dir = destination.endswith("/")
    path = destination.rstrip("/") or "/"
    exists = os.path.lexists(path)
    if exists and os.path.isdir(path):
        return _Target(path, contents_only=top.isdir() and source.rstrip("/").endswith("/."))
    if exists and wants_dir:
        raise CopyError(f"stat {_shown(destination, where)}: not a directory")
    if exists:
        if top.isdir():
            raise CopyError(f"cannot copy a directory to a file: {where}{destination}")
        return _Target(posixpath.dirname(path) or "/", rename=posixpath.basename(path))
    if wants_dir and not top.isdir():
        raise CopyError(f"destination directory {where}{destination} does not exist")
    parent = posixpath.dirname(path) or "/"
    if not os.path.isdir(parent):
        if where:  # the container's side
            raise CopyError(f"Could not find the file {parent} in container {where.rstrip(':')}")
        if os.path.lexists(parent):
            raise CopyError(f"stat {os.path.abspath(destination)}: not a directory")
        raise CopyError(f'invalid output path: directory "{os.path.abspath(parent)}" does not exist')
    return _Target(parent, rename=posixpath.basename(path))


def _shown(destination: str, where: str) -> str:
    """A destination as docker names it: absolute on the host, as given in the container."""
    return f"{where}{destination}" if where else os.path.abspath(destination) + ("/" if destination.endswith("/") else "")


def _extract(tar: tarfile.TarFile, first: list[tarfile.TarInfo], rest: Iterator[tarfile.TarInfo], target: _Target,
             own: tuple[int, int] | None) -> None:
    for member in itertools.chain(first, rest):  # in stream order: each member's data follows it
        name = _landing_name(member.name, target)
        if name is None:
            continue
        member.name = name
        if member.islnk():
            linked = _landing_name(member.linkname, target)
            if linked is None:
                continue
            member.linkname = linked
        if own is not None:
            member.uid, member.gid = own
        _check_parents(target.directory, name)
        _replace_non_directory(os.path.join(target.directory, name), member)
        tar.extract(member, target.directory, set_attrs=True, numeric_owner=True, filter=_checked)


def _landing_name(name: str, target: _Target) -> str | None:
    """The entry's path below the target directory; None for the dropped top entry."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise CopyError(f"invalid path in archive: {name}")
    if target.contents_only or target.rename is not None:
        if not parts or len(parts) == 1 and target.contents_only:
            return None
        parts = parts[1:] if target.contents_only else [target.rename, *parts[1:]]
    return "/".join(parts) if parts else None


def _replace_non_directory(path: str, member: tarfile.TarInfo) -> None:
    """An existing file or link is replaced; an existing directory stays (and is merged into)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if not member.isdir():
            raise CopyError(f"cannot overwrite directory {path} with non-directory")
        return
    os.unlink(path)


def _check_parents(directory: str, name: str) -> None:
    """Every directory between ``directory`` and the entry must be a real directory: a
    symlink there (one the stream itself made, say) would lead the write elsewhere."""
    path = directory
    for part in name.split("/")[:-1]:
        path = os.path.join(path, part)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return  # made below as a plain directory
        if not stat.S_ISDIR(mode):
            raise CopyError(f"refusing to write through {path}: not a directory")


def _checked(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
    """tarfile's extraction filter: names were made relative above; modes, owners and
    links are kept as docker keeps them."""
    if member.name.startswith("/") or ".." in member.name.split("/"):
        raise CopyError(f"invalid path in archive: {member.name}")
    return member
