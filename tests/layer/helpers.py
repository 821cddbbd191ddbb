"""Helpers for layer tests: tree snapshots to compare, and hand-built (often hostile) tars."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.usefixtures("must_be_root")  # fails without root (tests/layer/conftest.py)

MTIME = 1_700_000_000


def tree_state(root: Path, *, mtimes: bool = True, dir_mtimes: bool = True) -> dict[bytes, tuple]:
    """Everything a layer should preserve about a tree, keyed by root-relative path.

    Hard links are recorded as the first path (bytewise) of their inode, so two trees compare
    equal only if they link the same names together. mtimes are compared in whole seconds,
    which is what a layer stores.
    """
    base = os.fsencode(root)
    entries: dict[bytes, tuple] = {}
    first_name: dict[int, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, base)
            st = os.lstat(path)
            mode = st.st_mode
            if stat.S_ISREG(mode):
                with open(path, "rb") as handle:
                    content = hashlib.sha256(handle.read()).hexdigest()
            elif stat.S_ISLNK(mode):
                content = os.readlink(path).hex()
            else:
                content = ""
            link_group = b""
            if not stat.S_ISDIR(mode) and st.st_nlink > 1:
                link_group = first_name.setdefault(st.st_ino, rel)
            keep_mtime = mtimes and (dir_mtimes or not stat.S_ISDIR(mode))
            entries[rel] = (
                stat.S_IFMT(mode), stat.S_IMODE(mode), st.st_uid, st.st_gid,
                st.st_size if stat.S_ISREG(mode) else 0,
                st.st_mtime_ns // 1_000_000_000 if keep_mtime else None,
                st.st_rdev if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else 0,
                content, link_group, tuple(sorted(xattrs(path).items())),
            )
    return entries


def xattrs(path: bytes | str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {
        name: os.getxattr(path, name, follow_symlinks=False)
        for name in names
        if not name.startswith(("trusted.overlay.", "security.selinux"))
    }


def make_tar(*specs: tuple, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A tar from specs like ("file", name, data), ("dir", name), ("symlink", name, target),
    ("hardlink", name, target), ("fifo", name), ("char", name, major, minor).

    tarfile writes whatever name it is given, which is what hostile-layer tests need.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for kind, name, *rest in specs:
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            info.mode = 0o755 if kind == "dir" else 0o644
            data = None
            if kind == "file":
                payload = rest[0] if rest else b""
                info.size = len(payload)
                data = io.BytesIO(payload)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, rest[0]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, rest[0]
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "char":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, rest[0], rest[1]
            else:
                raise ValueError(kind)
            archive.addfile(info, data)
    return buffer.getvalue()


def listing(root: Path, *, skip: Path | None = None) -> dict[str, tuple]:
    """Names, types, sizes, mtimes and content hashes under ``root`` (to prove nothing changed)."""
    result: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = ""
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            result[path] = (stat.S_IFMT(st.st_mode), st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return result
