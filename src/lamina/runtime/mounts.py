"""The overlay rootfs of a container: mount lowers + a fresh upper, unmount, find leftovers.

A container dir holds everything one overlay mount needs, side by side::

    <base>/l/0 … l/N   symlinks to the lower dirs, topmost first
    <base>/upper       what the container writes (the layer diff)
    <base>/work        overlayfs scratch space
    <base>/rootfs      the mount point
    <base>/empty       the only lower dir when the image has no layers

The kernel takes all mount options in one page (4096 bytes), which absolute snapshot paths
(~90 bytes each) would fill at about 40 layers. ``mount`` is therefore run *from* ``<base>``
with short relative names (``lowerdir=l/0:l/1:…``, at most 5 bytes a layer): overlayfs resolves
them, symlinks included, at mount time. That reaches overlayfs' own limit of 500 lower dirs
before the page limit, so nothing needs merging.

``redirect_dir`` and ``metacopy`` are off so the upper dir alone is the diff; ``index`` is off so
an upper dir is never tied to one set of lower inodes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
from collections import namedtuple
from collections.abc import Sequence
from pathlib import Path

from lamina.errors import RuntimeError_

__all__ = ["MAX_LOWER_DIRS", "OverlayDirs", "bind_mount", "filesystem_type", "mount_overlay", "mount_view", "mounts_under", "probe_overlay", "remove_container_dir", "unmount"]

MAX_LOWER_DIRS = 500  # overlayfs' OVL_MAX_STACK
_PAGE = 4096
_MNT_DETACH = 2
_MS_RDONLY = 1
_MS_BIND = 4096
_MS_REC = 16384
_OPTIONS = "redirect_dir=off,metacopy=off,index=off"


class OverlayDirs(namedtuple("OverlayDirs", "base")):
    """The directories of one container's overlay (see the module docstring)."""

    # base: Path
    __slots__ = ()

    @property
    def upper(self) -> Path:
        return self.base / "upper"

    @property
    def work(self) -> Path:
        return self.base / "work"

    @property
    def rootfs(self) -> Path:
        return self.base / "rootfs"


def mount_overlay(base: Path, lowers: Sequence[Path], *, volatile: bool = False) -> OverlayDirs:
    """Mount ``lowers`` (topmost first) with a fresh upper dir at ``<base>/rootfs``.

    ``volatile`` is for an upper dir that is never mounted again (``run --rm``): the unmount
    then skips syncing the whole host filesystem, which can take longer than the container ran.
    """
    dirs = OverlayDirs(Path(base))
    for path in (dirs.upper, dirs.work, dirs.rootfs):
        path.mkdir(parents=True, exist_ok=True)
    names = _link_lowers(dirs.base, lowers)
    options = f"lowerdir={':'.join(names)},upperdir=upper,workdir=work,{_OPTIONS}"
    try:
        _mount(dirs.base, options + (",volatile" if volatile else ""), len(names))
    except RuntimeError_:
        if not volatile:
            raise
        _mount(dirs.base, options, len(names))  # a kernel before 5.10
    return dirs


def mount_view(base: Path, lowers: Sequence[Path]) -> Path:
    """A read-only merged view of ``lowers`` (topmost first) at ``<base>/rootfs``, returned.

    One lower dir is returned as it is: nothing to merge.
    """
    if len(lowers) == 1:
        return Path(lowers[0])
    dirs = OverlayDirs(Path(base))
    dirs.rootfs.mkdir(parents=True, exist_ok=True)
    names = _link_lowers(dirs.base, lowers)
    if len(names) == 1:
        names.append(names[0])  # overlayfs wants two lower dirs when there is no upper dir
    _mount(dirs.base, f"ro,lowerdir={':'.join(names)},{_OPTIONS}", len(names))
    return dirs.rootfs


def probe_overlay(directory: Path) -> str | None:
    """None if an overlay whose upper dir is under ``directory`` mounts; else why it does not.

    The store's file system must take an upper dir (overlayfs on overlayfs, for one, does
    not), and the kernel and our privileges must allow the mount.
    """
    try:
        import tempfile  # once per store: the answer is kept

        directory.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix=".probe-", dir=directory))  # hidden: cleaned like staging
    except OSError as exc:
        return f"cannot make a probe dir: {exc.strerror}"
    try:
        dirs = OverlayDirs(base)
        for path in (base / "lower", dirs.upper, dirs.work, dirs.rootfs):
            path.mkdir()
        options = f"lowerdir=lower,upperdir=upper,workdir=work,{_OPTIONS}"
        ctypes.set_errno(0)
        # Volatile as a step's mount is (so unmounting skips the host's syncfs); a kernel
        # without it takes the plain mount, whose unmount is slower.
        if not (_mount_directly(base, options + ",volatile") or _mount_directly(base, options)):
            code = ctypes.get_errno()
            if code:
                return f"mount on {filesystem_type(base)}: {os.strerror(code)}"
            try:  # a path mount(2) cannot take as it is: ``mount`` says what fails
                _mount(base, options, 1)
            except RuntimeError_ as exc:
                return str(exc).removeprefix("cannot mount an overlay rootfs ")
        unmount(dirs.rootfs)
        return None
    finally:
        remove_container_dir(base)


def _link_lowers(base: Path, lowers: Sequence[Path]) -> list[str]:
    """Short relative names (``l/0``…) for the lower dirs, as symlinks under ``base``."""
    if len(lowers) > MAX_LOWER_DIRS:
        raise RuntimeError_(f"an image with {len(lowers)} layers cannot be mounted: overlayfs stacks at most "
                            f"{MAX_LOWER_DIRS}")
    links = base / "l"
    links.mkdir(parents=True, exist_ok=True)
    if not lowers:
        empty = base / "empty"
        empty.mkdir(exist_ok=True)
        lowers = [empty]
    names = []
    for index, lower in enumerate(lowers):
        link = links / str(index)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.abspath(lower))
        names.append(f"l/{index}")
    return names


def _mount(base: Path, options: str, layers: int) -> None:
    if len(options) >= _PAGE:
        raise RuntimeError_(f"overlay mount options for {layers} layers exceed one page")
    ctypes.set_errno(0)
    if _mount_directly(base, options):
        return
    code = ctypes.get_errno()
    result = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, "rootfs"],
                            cwd=base, capture_output=True, text=True)
    if result.returncode != 0:
        # mount(2)'s own error says more than mount(8)'s paragraph (which ends pointing at dmesg).
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip() and "dmesg" not in line]
        reason = os.strerror(code) if code else (lines[-1] if lines else f"exit {result.returncode}")
        raise RuntimeError_(f"cannot mount an overlay rootfs on {filesystem_type(base)}: {reason}")


def _mount_directly(base: Path, options: str) -> bool:
    """mount(2) itself, sparing a ``mount`` process, when the options still fit in a page with
    absolute paths (a few dozen layers); False to let ``mount`` do it (and say what failed)."""
    prefix = os.path.abspath(base)
    if "," in prefix or ":" in prefix:
        return False
    flags, parts = 0, []
    for option in options.split(","):
        key, _, value = option.partition("=")
        if key == "ro":
            flags |= _MS_RDONLY
        elif key in ("lowerdir", "upperdir", "workdir"):
            parts.append(f"{key}=" + ":".join(f"{prefix}/{name}" for name in value.split(":")))
        else:
            parts.append(option)
    data = ",".join(parts).encode()
    if len(data) >= _PAGE:
        return False
    return _libc().mount(b"overlay", os.fsencode(f"{prefix}/rootfs"), b"overlay", flags, data) == 0


def bind_mount(source: Path, target: Path) -> None:
    """Bind ``source`` (and what is mounted below it) onto ``target``, which must exist."""
    if _libc().mount(os.fsencode(source), os.fsencode(target), None, _MS_BIND | _MS_REC, None) != 0:
        code = ctypes.get_errno()
        raise RuntimeError_(f"cannot bind {source} on {target}: {os.strerror(code)}")


def unmount(path: Path) -> None:
    """Unmount ``path``; a busy mount is detached lazily (it goes once its last user exits)."""
    target = os.fsencode(path)
    if _libc().umount2(target, 0) == 0:
        return
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOENT):
        return  # not mounted (any more)
    if code == errno.EBUSY and _libc().umount2(target, _MNT_DETACH) == 0:
        return
    raise RuntimeError_(f"cannot unmount {path}: {os.strerror(code)}")


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this mount namespace, deepest first."""
    prefix = os.path.abspath(path)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as mountinfo:
        for line in mountinfo:
            point = _unescape(line.split(" ", 5)[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def filesystem_type(path: Path) -> str:
    """The type of the file system ``path`` is on (its longest mount point in mountinfo)."""
    target = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as mountinfo:
            for line in mountinfo:
                left, _, right = line.partition(" - ")
                point = _unescape(left.split(" ", 5)[4])
                if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                    best, kind = point, right.split(" ", 1)[0]
    except OSError:
        pass
    return kind


def remove_container_dir(base: Path) -> bool:
    """Unmount what is left under ``base``, then delete it; False (nothing deleted) if a mount
    stays. Never deletes through a mount: that would reach into the lower layers or a bind."""
    for point in mounts_under(base):
        try:
            unmount(Path(point))
        except RuntimeError_:
            pass
    if mounts_under(base):
        return False
    from lamina.layer.treeremoval import remove_tree  # iterative: any depth

    try:
        remove_tree(base)
    except OSError:  # whatever stopped it part-way: rm says no more, but try
        subprocess.run(["rm", "-rf", "--one-file-system", "--", os.fspath(base)], capture_output=True)
    return not os.path.lexists(base)


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)  # libc is loaded already (find_library runs ldconfig)
        _LIBC.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
        _LIBC.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
    return _LIBC
