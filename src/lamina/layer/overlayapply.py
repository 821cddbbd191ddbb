"""Applying one layer tar onto an empty directory in overlayfs form (a snapshot lower dir).

A snapshot holds exactly one layer, so a stack of them can be handed to overlayfs as
``lowerdir=top:...:base`` instead of copying every layer into one tree. Whiteouts therefore stay
in the form overlayfs reads, not applied:

* ``.wh.<name>`` becomes a character device 0/0 called ``<name>``;
* ``<dir>/.wh..wh..opq`` becomes the xattr ``trusted.overlay.opaque=y`` on ``<dir>``.

Everything else (path cleaning, symlink-safe parent resolution, fresh file creation, hard link
confinement, refusing overlayfs xattrs from the tar) is :mod:`lamina.layer.apply`'s extractor,
reused. One thing differs because the layer below is not in ``target``: a parent directory the
tar does not list is created with the attributes the lower layers give it (overlayfs shows the
topmost layer's directory attributes, so a plain ``0755 root`` directory here would silently
change the image), and a parent that is a symlink in a lower layer is followed, as applying
onto the full tree would.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from lamina.errors import LayerError
from lamina.layer.apply import OPAQUE_MARKER, AppliedLayer, _Applier, hidden_name
from lamina.layer.overlaylookup import OPAQUE_XATTR, is_opaque, lower_entry
from lamina.layer.tarread import TarMember, TarReader

__all__ = ["OPAQUE_XATTR", "apply_layer_as_overlay", "is_opaque", "lower_entry"]


def apply_layer_as_overlay(tar_stream: BinaryIO, target: Path, *, lowers: Sequence[Path] = ()) -> AppliedLayer:
    """Extract the layer tar ``tar_stream`` onto the empty dir ``target``, keeping whiteouts.

    ``lowers`` are the unpacked dirs of the layers below, topmost first (the overlayfs
    ``lowerdir`` order); they supply the attributes of parent directories the tar omits.
    Needs root (device-node whiteouts, ``trusted.*`` xattrs). Raises LayerError as
    :func:`lamina.layer.apply.apply_layer` does.
    """
    target = Path(target)
    if target.is_dir() and any(os.scandir(target)):
        raise LayerError(f"cannot unpack a layer in overlay form into {target}: the directory is not empty")
    return _OverlayApplier(target, [os.fspath(lower) for lower in lowers]).run(TarReader(tar_stream))


class _OverlayApplier(_Applier):
    def __init__(self, target: Path, lowers: list[str]):
        super().__init__(target, same_owner=True)
        self.lowers = lowers

    def _whiteout(self, member: TarMember, parent: str, leaf: str) -> None:
        self.whiteouts += 1
        if leaf == OPAQUE_MARKER:
            real_dir = self._resolve_dir(parent, member, create=True)
            assert real_dir is not None
            path = f"{self.root}/{real_dir}" if real_dir else self.root
            os.setxattr(path, OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        hidden = hidden_name(member, leaf)
        if hidden is None:
            return
        real_dir = self._resolve_dir(parent, member, create=True)
        assert real_dir is not None
        real = f"{real_dir}/{hidden}" if real_dir else hidden
        if real in self.written:
            return  # a whiteout only hides lower layers, never this layer's own files
        path = f"{self.root}/{real}"
        try:
            self._replace(path, lambda: os.mknod(path, stat.S_IFCHR, os.makedev(0, 0)))
        except PermissionError:
            raise LayerError(
                f"layer tar member {member.name!r}: an overlay whiteout needs root (CAP_MKNOD)"
            ) from None

    def _step(self, real_parent: str, name: str, member: TarMember, create: bool, hops: int) -> str | None:
        """Resolve one component; a component missing here is looked up in the lower layers."""
        if name in ("", ".", "..") or not self.lowers:
            return super()._step(real_parent, name, member, create, hops)
        real = f"{real_parent}/{name}" if real_parent else name
        if os.path.lexists(f"{self.root}/{real}"):
            return super()._step(real_parent, name, member, create, hops)
        lower = self._lower_entry(real)
        if lower is None or not create:
            return super()._step(real_parent, name, member, create, hops)
        lower_path, lower_st = lower
        if stat.S_ISLNK(lower_st.st_mode):
            return self._follow(os.readlink(lower_path), real_parent, member, create, hops)
        if not stat.S_ISDIR(lower_st.st_mode):
            return super()._step(real_parent, name, member, create, hops)
        path = f"{self.root}/{real}"
        os.mkdir(path, 0o700)
        os.chown(path, lower_st.st_uid, lower_st.st_gid)
        os.chmod(path, stat.S_IMODE(lower_st.st_mode))
        # Not added to ``written``: a whiteout or opaque marker may still apply to it, and its
        # mtime is set last, like a listed directory's.
        self.dir_mtimes.setdefault(real, lower_st.st_mtime_ns)
        return real

    def _lower_entry(self, real: str) -> tuple[str, os.stat_result] | None:
        return lower_entry(self.lowers, real)


