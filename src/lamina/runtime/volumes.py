"""Bind mounts, volumes and tmpfs mounts of a container (``-v``, ``--mount``, ``--tmpfs``, VOLUME).

Volumes live in the store, ``<store>/volumes/<name>/_data`` as in docker; an image's VOLUME
paths get anonymous volumes (a random 64-hex name) unless a user mount covers them, and
``rm -v`` deletes those. An empty volume is filled from the image's content at its path the
first time the container starts (docker's copy-up); ``volume-nocopy`` turns that off.

Docker's quirks kept on purpose: ``-v /host/path:/x`` creates a missing host directory,
``--mount type=bind`` refuses a missing source. The flags themselves are parsed by
mountflags.py.
"""

from __future__ import annotations

import os
import posixpath
import stat
import subprocess
from collections import namedtuple
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import RuntimeError_, UsageError
from lamina.runtime.rootpath import secure_join
from lamina.runtime.spec import Mount

if TYPE_CHECKING:
    from typing import Any

__all__ = ["MountRequest", "copy_up", "path_in_root", "remove_volumes", "resolve_mounts", "runtime_mounts"]

class MountRequest(namedtuple("MountRequest",
                              "type target source read_only options no_copy create_source spec mode propagation",
                              defaults=("", False, (), False, False, "", "", ""))):
    """One user-requested mount before volumes are created and sources checked."""

    # type: str  # bind, volume, tmpfs; target: str;
    # source: str  # host path (bind) or volume name ("" = anonymous); read_only: bool;
    # options: tuple[str, ...]  # tmpfs: size=…, mode=…; no_copy: bool;
    # create_source: bool  # -v creates a missing host dir; --mount does not;
    # spec: str  # the flag as given (HostConfig.Binds); mode: str  # -v's third part (inspect's Mode);
    # propagation: str  # a bind's (rprivate when not given)
    __slots__ = ()


def resolve_mounts(requests: list[MountRequest], image_volumes: dict[str, Any] | None,
                   volumes_root: Path) -> list[dict[str, Any]]:
    """The container's mount points (docker's inspect ``Mounts`` shape plus ``Anonymous``/
    ``NoCopy``/``Options``): checks sources, creates volumes and missing ``-v`` host dirs."""
    _check_requests(requests)  # every refusal before anything is made, as docker's daemon
    seen: set[str] = set()
    mounts: list[dict[str, Any]] = []
    for request in requests:
        target = posixpath.normpath(request.target)
        seen.add(target)
        mounts.append(_mount_point(request, target, volumes_root))
    for path in sorted(image_volumes or {}):
        target = posixpath.normpath(path)
        if target in seen:
            continue
        seen.add(target)
        mounts.append(_mount_point(MountRequest("volume", target), target, volumes_root))
    return mounts


def _check_requests(requests: list[MountRequest]) -> None:
    """Duplicate targets and missing ``--mount`` bind sources, refused in docker's words."""
    seen: set[str] = set()
    for request in requests:
        target = posixpath.normpath(request.target)
        if target in seen:
            raise UsageError(f"Duplicate mount point: {target}")
        seen.add(target)
        if request.type == "bind" and not request.create_source and not os.path.exists(request.source):
            raise UsageError(f'invalid mount config for type "bind": bind source path does not exist: '
                             f"{request.source}")


def runtime_mounts(mounts: list[dict[str, Any]]) -> list[Mount]:
    """The runtime-spec mounts for the container's mount points."""
    result = []
    for point in mounts:
        if point["Type"] == "tmpfs":
            options = ["nosuid", "nodev", "noexec", *point.get("Options", ())]
            if not point["RW"]:
                options.append("ro")
            result.append(Mount(point["Destination"], "tmpfs", "tmpfs", tuple(options)))
        else:
            options = ("rbind", "rw" if point["RW"] else "ro", point.get("Propagation") or "rprivate")
            result.append(Mount(point["Destination"], point["Source"], "bind", options))
    return result


def copy_up(rootfs: Path, mounts: list[dict[str, Any]]) -> None:
    """Fill empty volumes from the image's content at their paths (first start only)."""
    for point in mounts:
        if point["Type"] != "volume" or point.get("NoCopy"):
            continue
        data = Path(point["Source"])
        if any(os.scandir(data)):
            continue
        inside = path_in_root(rootfs, point["Destination"])
        try:
            st = os.lstat(inside)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        os.chown(data, st.st_uid, st.st_gid)
        os.chmod(data, stat.S_IMODE(st.st_mode))
        if any(os.scandir(inside)):
            result = subprocess.run(["cp", "-a", "--", f"{inside}/.", f"{data}/"], capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError_(f"cannot copy image content into volume {point['Name']}: "
                                    f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ''}")


def remove_volumes(mounts: list[dict[str, Any]], volumes_root: Path, *, anonymous_only: bool = True) -> None:
    """Delete the container's anonymous volumes (``rm -v``); named volumes stay, as in docker."""
    from lamina.layer.treeremoval import discard_tree  # iterative: any depth

    for point in mounts:
        if point["Type"] == "volume" and (point.get("Anonymous") or not anonymous_only):
            discard_tree(volumes_root / point["Name"])


def path_in_root(root: Path, path: str) -> Path:
    """``path`` inside ``root`` with every symlink resolved as if ``root`` were ``/``; the
    missing tail is kept as is. Never leaves ``root``."""
    return Path(secure_join(os.fspath(root), path, keep_missing_tail=True) or root)


def _mount_point(request: MountRequest, target: str, volumes_root: Path) -> dict[str, Any]:
    if request.type == "tmpfs":
        return {"Type": "tmpfs", "Source": "", "Destination": target, "Mode": "", "RW": not request.read_only,
                "Propagation": "", "Options": list(request.options)}
    if request.type == "bind":
        source = Path(request.source)
        if not source.exists():
            if not request.create_source:
                raise UsageError(f'invalid mount config for type "bind": bind source path does not exist: {source}')
            source.mkdir(parents=True, exist_ok=True)
        return {"Type": "bind", "Source": os.fspath(source), "Destination": target, "Mode": request.mode,
                "RW": not request.read_only, "Propagation": request.propagation or "rprivate"}
    anonymous = not request.source
    name = request.source or os.urandom(32).hex()
    data = volumes_root / name / "_data"
    data.mkdir(parents=True, exist_ok=True)
    return {"Type": "volume", "Name": name, "Source": os.fspath(data), "Destination": target, "Driver": "local",
            "Mode": request.mode or ("z" if not anonymous else ""), "RW": not request.read_only, "Propagation": "",
            "Anonymous": anonymous, "NoCopy": request.no_copy}
