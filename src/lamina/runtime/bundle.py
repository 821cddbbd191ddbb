"""Prepare a container's bundle for one start: init layer, overlay rootfs, volumes, ``/etc``
files and the runtime-spec ``config.json``.

The *init layer* (``<dir>/init``, the topmost lower dir, like docker's ``-init`` layer) holds
empty stand-ins for every mount point the image lacks (``/etc/hosts``, ``/proc``, volume
targets, ``/sbin/docker-init``…). runc then finds them and creates nothing in the upper dir,
so the upper dir holds exactly what the container's processes wrote: ``commit`` takes it as
the layer, as docker does.
"""

from __future__ import annotations

import os
import stat
from collections import namedtuple
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import RuntimeError_
from lamina.layer.overlaylookup import lower_entry
from lamina.runtime.binaries import which
from lamina.runtime.containers import Container
from lamina.runtime.markers import add_markers
from lamina.runtime.mounts import mount_overlay, mounts_under, unmount
from lamina.runtime.network import write_etc_files
from lamina.runtime.seccomp import default_profile
from lamina.runtime.slirp import CONTAINER_ADDRESS, DNS_ADDRESS
from lamina.runtime.spec import (
    EtcFiles,
    Mount,
    ProcessSpec,
    Resources,
    container_env,
    runtime_spec,
    uses_host_flags,
    write_config,
)
from lamina.runtime.users import resolve_user
from lamina.runtime.volumes import copy_up, path_in_root, runtime_mounts
from lamina.store.store import Store

if TYPE_CHECKING:
    from typing import Any

__all__ = ["INIT_PATH", "Bundle", "container_lowers", "find_init", "make_init_layer", "prepare_bundle", "process_env"]

INIT_PATH = "/sbin/docker-init"
_STUB_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf", "dev/console")  # mode 0755, as docker's
_STUB_DIRS = ("proc", "sys", "dev", "dev/pts", "dev/shm")


class Bundle(namedtuple("Bundle", "dirs spec user hostname")):
    # dirs: OverlayDirs; spec: dict[str, Any]; user: ExecUser; hostname: str
    __slots__ = ()


def container_lowers(store: Store, container: Container) -> list[Path]:
    """The container's lower dirs, topmost first: its init layer, then the image's layers."""
    diff_ids = store.image_diff_ids(container.image_id)
    return [container.base / "init", *_image_lowers(store, diff_ids)]


def _image_lowers(store: Store, diff_ids: list[str]) -> list[Path]:
    """The snapshot dirs, topmost first. When all exist (the usual case) they are found
    without loading the layer-unpacking code; otherwise ``Snapshots`` makes the missing ones."""
    from lamina.oci.identity import chain_ids

    dirs = [Path(store.root) / "snapshots" / chain.split(":", 1)[1] / "fs" for chain in chain_ids(diff_ids)]
    if all(d.is_dir() for d in dirs):
        return dirs[::-1]
    from lamina.store.snapshots import Snapshots

    return Snapshots(store).lower_dirs(diff_ids)


def prepare_bundle(store: Store, container: Container, *, network_namespace: str | None = None) -> Bundle:
    """Mount the rootfs and write ``config.json``; the caller unmounts (``dirs.rootfs``).
    ``network_namespace``: the path of a namespace made for a ``private`` container."""
    base = container.base
    lowers = container_lowers(store, container)
    config, host_config = container.config, container.host_config
    mounts = container.document["Mounts"]
    init_binary = find_init() if host_config.get("Init") else None
    make_init_layer(base / "init", lowers[1:], mounts, with_init=init_binary is not None)
    if mounts_under(base / "rootfs"):
        unmount(base / "rootfs")  # left by a monitor that died
    dirs = mount_overlay(base, lowers, volatile=bool(host_config.get("AutoRemove")))
    try:
        if not container.started_at:
            copy_up(dirs.rootfs, mounts)
        network = host_config["NetworkMode"]
        hostname = config.get("Hostname") or (os.uname().nodename if network == "host" else container.id[:12])
        etc_files = _etc_files(base / "etc", network, hostname, host_config)
        user = resolve_user(dirs.rootfs, config.get("User") or "")
        cwd = os.path.normpath(config.get("WorkingDir") or "/")  # the config keeps WORKDIR /a/../b/ as written
        _ensure_workdir(dirs.rootfs, cwd)
        args = [container.document["Path"], *container.document["Args"]]
        extra: list[Mount] = []
        if init_binary is not None:
            args = [INIT_PATH, "--", *args]
            extra.append(Mount(INIT_PATH, init_binary, "bind", ("bind", "ro", "nosuid", "nodev")))
        env = process_env(container, hostname, user.home)
        process = ProcessSpec(args=args, env=env, cwd=cwd, user=config.get("User") or "",
                              terminal=bool(config.get("Tty")))
        swap = host_config.get("MemorySwap") or 0
        resources = Resources(memory_bytes=host_config.get("Memory") or None,
                              memory_swap_bytes=(swap if swap else None) if host_config.get("Memory") else None,
                              nano_cpus=host_config.get("NanoCpus") or None,
                              pids_limit=host_config.get("PidsLimit") or None)
        spec = runtime_spec(rootfs=dirs.rootfs.resolve(), process=process, user=user, hostname=hostname,
                            network="host" if network == "host" else "none",
                            network_namespace=network_namespace, etc_files=etc_files,
                            mounts=[*runtime_mounts(mounts), *extra], resources=resources,
                            readonly_rootfs=bool(host_config.get("ReadonlyRootfs")), no_new_privileges=True,
                            cgroups_path=f"/lamina/{container.id}")
        spec["linux"]["seccomp"] = default_profile()
        if uses_host_flags(host_config):
            from lamina.runtime.hostflags import apply_to_spec

            apply_to_spec(spec, host_config, dirs.rootfs)
        if host_config.get("PidMode") or host_config.get("IpcMode") in ("host", "none") or \
                host_config.get("Sysctls") or host_config.get("Devices"):
            from lamina.runtime.isolation import apply_isolation

            apply_isolation(spec, host_config)
        write_config(base, spec)
    except BaseException:
        unmount(dirs.rootfs)
        raise
    return Bundle(dirs, spec, user, hostname)


def process_env(container: Container, hostname: str, home: str, extra: list[str] = (), *,
                tty: bool | None = None) -> list[str]:
    """docker's process environment (PATH, HOSTNAME, TERM with a terminal, image and -e env,
    HOME); ``tty`` is exec's own -t, a run's is the container's."""
    terminal = bool(container.config.get("Tty")) if tty is None else tty
    return container_env(container.config.get("Env") or [], hostname=hostname, home=home, tty=terminal,
                         exec_env=extra)


def find_init() -> str:
    """docker's --init binary (tini, shipped by docker.io as docker-init)."""
    for name in ("docker-init", "tini-static", "tini"):
        found = which(name)
        if found:
            return found
    raise RuntimeError_("--init needs tini (docker-init): apt-get install tini")


def _etc_files(directory: Path, network: str, hostname: str, host_config: dict[str, Any]) -> EtcFiles:
    """The network mode's files, then --add-host and --dns* over them (docker: extra hosts come
    before the container's own address line)."""
    files = write_etc_files(directory, "host" if network == "host" else "none", hostname)
    if network == "private":
        resolv = (directory / "resolv.conf").read_text()
        kept = [line for line in resolv.splitlines() if line.split()[:1] not in (["nameserver"],)]
        (directory / "resolv.conf").write_text(f"nameserver {DNS_ADDRESS}\n" + "".join(f"{k}\n" for k in kept))
    if uses_host_flags(host_config):
        from lamina.runtime.hostflags import rewrite_etc_files

        rewrite_etc_files(directory, host_config)
    if network == "private":
        with open(directory / "hosts", "a") as hosts:
            hosts.write(f"{CONTAINER_ADDRESS}\t{hostname}\n")
    return files


def _ensure_workdir(rootfs: Path, cwd: str) -> None:
    """docker creates a missing WorkingDir (root-owned, 0755) before the process starts."""
    target = path_in_root(rootfs, cwd)
    try:
        os.makedirs(target, mode=0o755, exist_ok=True)
    except FileExistsError:
        raise RuntimeError_(f"Cannot mkdir: {cwd} is not a directory") from None  # docker's words
    except OSError as exc:
        if not os.path.isdir(target):
            raise RuntimeError_(f"cannot create the working directory {cwd}: {exc.strerror}") from None


def make_init_layer(init: Path, image_lowers: list[Path], mounts: list[dict[str, Any]], *, with_init: bool) -> None:
    """Empty stand-ins for the mount points the image lacks (see the module docstring)."""
    stubs: list[tuple[str, int | None]] = [(rel, None) for rel in _STUB_FILES] + [(rel, 0o755) for rel in _STUB_DIRS]
    for point in mounts:
        rel = point["Destination"].strip("/")
        if rel:
            stubs.append((rel, _stub_mode(point)))
    if with_init:
        stubs.append((INIT_PATH.strip("/"), None))
    init.mkdir(exist_ok=True)
    for rel, dir_mode in stubs:
        if os.path.lexists(init / rel) or lower_entry(image_lowers, rel) is not None:
            continue
        if not _make_parents(init, image_lowers, rel):
            continue  # a parent is a symlink or file in the image: runc resolves that itself
        if dir_mode is not None:
            (init / rel).mkdir()
            os.chmod(init / rel, dir_mode)
        else:
            (init / rel).touch()
            os.chmod(init / rel, 0o755)
    add_markers(init, image_lowers)


def _stub_mode(point: dict[str, Any]) -> int | None:
    """The stand-in's mode (None: a file). runc gives a tmpfs the mode of the directory it
    mounts on, so a tmpfs's stand-in carries the tmpfs's own mode (docker's 1777 unless
    ``mode=`` says otherwise), as if runc had made the directory itself."""
    if point["Type"] == "bind" and not os.path.isdir(point["Source"]):
        return None
    if point["Type"] != "tmpfs":
        return 0o755
    modes = [option[5:] for option in point.get("Options", ()) if option.startswith("mode=")]
    try:
        return int(modes[-1], 8) if modes else 0o1777
    except ValueError:
        return 0o1777  # the mount itself refuses it


def _make_parents(init: Path, image_lowers: list[Path], rel: str) -> bool:
    parts = rel.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        parent = "/".join(parts[:depth])
        target = init / parent
        entry = lower_entry(image_lowers, parent)
        if entry is not None and not stat.S_ISDIR(entry[1].st_mode):
            return False
        if os.path.lexists(target):
            continue
        if entry is None:
            target.mkdir(mode=0o755)
        else:
            st = entry[1]
            target.mkdir()
            os.chown(target, st.st_uid, st.st_gid)
            os.chmod(target, stat.S_IMODE(st.st_mode))
    return True
