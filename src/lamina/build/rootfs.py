"""Merged root filesystems of images, for the few steps that must look inside one.

COPY/ADD need the image they copy into (does the destination exist, is it a symlink, which
uid is ``--chown=app``) and ``COPY --from`` the files of another image. :class:`RootfsViews` is
the only place that turns layers into a directory: a read-only overlay mount of the store's
snapshots (unpacked once per layer, shared with RUN and later builds). Where overlay mounts
are not possible (not root, or RUN uses the copying snapshotter), the layers are applied into a private temp dir instead, extended
in place as a stage adds layers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lamina.errors import LaminaError, StoreError
from lamina.layer.apply import apply_layer
from lamina.layer.compression import decompressing_reader
from lamina.oci import mediatypes as mt
from lamina.store.snapshots import Snapshots
from lamina.store.store import Store

_MOUNTED_VIEWS = 8  # a step uses two views at most (destination, --from); older ones are unmounted


class RootfsViews:
    """Directories holding the merged files of a stack of layers, made on demand, for one build."""

    def __init__(self, store: Store, workdir: Path):
        self.store = store
        self.workdir = workdir
        self._views: dict[tuple[str, ...], Path] = {}
        self._mounts: dict[tuple[str, ...], Path] = {}  # view → its mount dir
        self._copies: set[Path] = set()  # views applied into temp dirs
        self._mount_views: bool | None = None  # decided on first use (see lamina.runtime.copyroot)

    def view(self, diff_ids: Sequence[str]) -> Path:
        """The merged tree of ``diff_ids`` (bottom first); read it, never write to it."""
        wanted = tuple(diff_ids)
        if wanted in self._views:
            return self._views[wanted]
        if self._mount_views is None:
            from lamina.runtime.copyroot import snapshotter_for

            self._mount_views = os.geteuid() == 0 and snapshotter_for(self.store.root, announce=False).name == "overlay"
        if self._mount_views:
            try:
                return self._mounted(wanted)
            except (LaminaError, OSError):
                self._mount_views = False  # e.g. no overlayfs here: unpack instead
        return self._applied(wanted)

    def close(self) -> None:
        from lamina.layer.treeremoval import discard_tree  # iterative: any depth
        from lamina.runtime.mounts import remove_container_dir

        for base in self._mounts.values():
            remove_container_dir(base)
        for path in self._copies:
            discard_tree(path)
        self._views.clear()
        self._mounts.clear()
        self._copies.clear()

    def _mounted(self, wanted: tuple[str, ...]) -> Path:
        from lamina.runtime.mounts import mount_view, remove_container_dir

        while len(self._mounts) >= _MOUNTED_VIEWS:
            oldest = next(iter(self._mounts))
            remove_container_dir(self._mounts.pop(oldest))
            self._views.pop(oldest, None)
        lowers = Snapshots(self.store).lower_dirs(wanted)
        base = Path(tempfile.mkdtemp(prefix="view-", dir=self.workdir))
        try:
            path = mount_view(base, lowers)
        except BaseException:
            remove_container_dir(base)
            raise
        self._mounts[wanted] = base
        self._views[wanted] = path
        return path

    def _applied(self, wanted: tuple[str, ...]) -> Path:
        base, path = self._longest_copy(wanted)
        if path is None:
            path = Path(tempfile.mkdtemp(prefix="rootfs-", dir=self.workdir))
            os.chmod(path, 0o755)
            self._copies.add(path)
        else:
            del self._views[base]  # extended in place: it no longer shows ``base``
        for diff_id in wanted[len(base):]:
            self._apply(diff_id, path)
        self._views[wanted] = path
        return path

    def _longest_copy(self, wanted: tuple[str, ...]) -> tuple[tuple[str, ...], Path | None]:
        best: tuple[tuple[str, ...], Path | None] = ((), None)
        for key, path in self._views.items():
            if path in self._copies and wanted[: len(key)] == key and len(key) >= len(best[0]):
                best = (key, path)
        return best

    def _apply(self, diff_id: str, target: Path) -> None:
        layer = self.store.layer_for(diff_id)
        if layer is None:
            raise StoreError(f"layer {diff_id} is not in the store")
        with self.store.content.open(layer.blob_digest) as blob:
            stream = decompressing_reader(blob, mt.layer_compression(layer.media_type))
            apply_layer(stream, target, same_owner=os.geteuid() == 0)
