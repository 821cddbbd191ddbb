"""Resolving ``USER`` against an image's own ``/etc/passwd`` and ``/etc/group``, as docker does.

Docker (moby/sys ``user.GetExecUser``) accepts ``name``, ``uid``, ``name:group``, ``uid:gid``
and the mixed forms. A name must exist in the image; a number need not (then the gid is 0 and
home ``/``). Supplementary groups come from ``/etc/group`` member lists only when no group was
given. Lines are split on ``:`` with missing fields left empty and bad numbers read as 0; group
lines starting with ``#`` are comments (passwd lines are not), like the Go code.

The files are read inside the container's root: a symlinked ``/etc/passwd`` is resolved with
the rootfs as ``/``, never on the host.
"""

from __future__ import annotations

import os
import stat
from collections import namedtuple
from pathlib import Path

from lamina.errors import RuntimeError_
from lamina.runtime.rootpath import secure_join

__all__ = ["ExecUser", "GroupEntry", "PasswdEntry", "parse_group", "parse_passwd", "read_in_root", "resolve_in_root", "resolve_user"]

_MAX_ID = 2**31 - 1
_MAX_FILE_BYTES = 64 * 1024 * 1024


class PasswdEntry(namedtuple("PasswdEntry", "name uid gid home")):
    # name: str; uid: int; gid: int; home: str
    __slots__ = ()


class GroupEntry(namedtuple("GroupEntry", "name gid members")):
    # name: str; gid: int; members: tuple[str, ...]
    __slots__ = ()


class ExecUser(namedtuple("ExecUser", "uid gid additional_gids home", defaults=(0, 0, (), "/"))):
    """The identity a container process runs as (the runtime-spec ``process.user``)."""

    # uid: int; gid: int; additional_gids: tuple[int, ...]  # docker puts the primary gid first; home: str
    __slots__ = ()


def resolve_user(rootfs: Path, user_spec: str) -> ExecUser:
    """``USER`` (``""`` meaning root) → uid, gid, groups and home, looked up in ``rootfs``.

    Raises RuntimeError_ with docker's wording (``unable to find user X: no matching entries
    in passwd file``) for a name the image does not know, or an id out of range.
    """
    user_part, _, group_part = user_spec.partition(":")
    user_id = _numeric(user_part, "user")
    group_id = _numeric(group_part, "group")
    passwd_text = read_in_root(rootfs, "etc/passwd")
    group_text = read_in_root(rootfs, "etc/group")

    uid, gid, home, matched_name = 0, 0, "/", ""
    passwd = parse_passwd(passwd_text or "")
    if user_part:
        matches = [p for p in passwd if (p.uid == user_id if user_id is not None else p.name == user_part)]
    else:
        matches = [p for p in passwd if p.uid == 0]
    if matches:
        uid, gid, home, matched_name = matches[0].uid, matches[0].gid, matches[0].home, matches[0].name
    elif user_part:
        if user_id is None:
            raise RuntimeError_(f"unable to find user {user_part}: no matching entries in passwd file")
        uid = user_id

    supplementary: list[int] = []
    if group_part or matched_name:
        groups = parse_group(group_text or "")
        if group_part:
            found = [g for g in groups if (g.gid == group_id if group_id is not None else g.name == group_part)]
            if found:
                gid = found[0].gid
            elif group_id is None:
                raise RuntimeError_(f"unable to find group {group_part}: no matching entries in group file")
            else:
                gid = group_id
        else:
            supplementary = [g.gid for g in groups if matched_name in g.members]
    return ExecUser(uid=uid, gid=gid, additional_gids=(gid, *supplementary), home=home or "/")


def parse_passwd(text: str) -> list[PasswdEntry]:
    """``name:password:uid:gid:gecos:home:shell`` lines (short or malformed lines tolerated)."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        fields = line.split(":")
        fields += [""] * (7 - len(fields))
        entries.append(PasswdEntry(fields[0], _lenient_int(fields[2]), _lenient_int(fields[3]), fields[5]))
    return entries


def parse_group(text: str) -> list[GroupEntry]:
    """``name:password:gid:member,member`` lines; ``#`` starts a comment line."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        fields += [""] * (4 - len(fields))
        members = tuple(fields[3].split(",")) if fields[3] else ()
        entries.append(GroupEntry(fields[0], _lenient_int(fields[2]), members))
    return entries


def read_in_root(rootfs: Path, relative: str) -> str | None:
    """The text of ``relative`` inside ``rootfs``, symlinks resolved within it; None if absent."""
    path = resolve_in_root(os.fspath(rootfs), relative)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read(_MAX_FILE_BYTES).decode("utf-8", "surrogateescape")


def resolve_in_root(root: str, relative: str) -> str | None:
    """The host path of ``relative`` inside ``root`` (symlinks followed with ``root`` as ``/``);
    None if a component is missing."""
    return secure_join(root, relative)


def _numeric(value: str, what: str) -> int | None:
    """The id if ``value`` is a number (docker: then never looked up as a name), else None."""
    if not value:
        return None
    try:
        number = int(value, 10)
    except ValueError:
        return None
    if not value.lstrip("+-").isdigit():
        return None
    if number < 0 or number > _MAX_ID:
        raise RuntimeError_(f"{what} id {value} is out of range: uids and gids must be in range 0-{_MAX_ID}")
    return number


def _lenient_int(value: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        return 0
