"""Merged root filesystems of images, for the few steps that must look inside one.

COPY/ADD need the image they copy into (does the destination exist, is it a symlink, which
uid is ``--chown=app``) and ``COPY --from`` the files of another image. :class:`RootfsViews` is
the only place that turns layers into a directory: today it applies the layer blobs into a
private temp dir (extended in place as a stage adds layers); when overlay snapshots are
available it becomes ``MergedView(Snapshots(store).lower_dirs(diff_ids))``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lamina.errors import StoreError
from lamina.layer.apply import apply_layer
from lamina.layer.compression import decompressing_reader
from lamina.oci import mediatypes as mt
from lamina.store.store import Store


class RootfsViews:
    """Directories holding the merged files of a stack of layers, made on demand, for one build."""

    def __init__(self, store: Store, workdir: Path):
        self.store = store
        self.workdir = workdir
        self._views: dict[tuple[str, ...], Path] = {}

    def view(self, diff_ids: Sequence[str]) -> Path:
        """The merged tree of ``diff_ids`` (bottom first); read it, never write to it."""
        wanted = tuple(diff_ids)
        if wanted in self._views:
            return self._views[wanted]
        base, path = self._longest_prefix(wanted)
        if path is None:
            path = Path(tempfile.mkdtemp(prefix="rootfs-", dir=self.workdir))
            os.chmod(path, 0o755)
        else:
            del self._views[base]  # extended in place: it no longer shows ``base``
        for diff_id in wanted[len(base):]:
            self._apply(diff_id, path)
        self._views[wanted] = path
        return path

    def close(self) -> None:
        for path in self._views.values():
            shutil.rmtree(path, ignore_errors=True)
        self._views.clear()

    def _longest_prefix(self, wanted: tuple[str, ...]) -> tuple[tuple[str, ...], Path | None]:
        best: tuple[tuple[str, ...], Path | None] = ((), None)
        for key, path in self._views.items():
            if len(key) <= len(wanted) and wanted[: len(key)] == key and len(key) >= len(best[0]):
                best = (key, path)
        return best

    def _apply(self, diff_id: str, target: Path) -> None:
        layer = self.store.layer_for(diff_id)
        if layer is None:
            raise StoreError(f"layer {diff_id} is not in the store")
        with self.store.content.open(layer.blob_digest) as blob:
            stream = decompressing_reader(blob, mt.layer_compression(layer.media_type))
            apply_layer(stream, target, same_owner=os.geteuid() == 0)
