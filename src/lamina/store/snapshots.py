"""Snapshots: unpacked layers, one directory per chain ID, derived from blobs on demand.

``snapshots/<chain-hex>/fs`` holds exactly one layer's tar applied onto an *empty* directory
(whiteouts kept as overlayfs whiteouts: char device 0/0 and the opaque xattr), so a stack of
them is a set of overlayfs lower dirs. They are derived data: deleted freely, rebuilt from
the content store when missing. A half-made snapshot is never visible: it is unpacked into a
temp dir and renamed into place. A RUN step's upper dir, once made into exactly that tree
(``lamina.layer.overlaydiff.upper_to_snapshot``), is moved in by :meth:`Snapshots.adopt`
instead of unpacking the layer it was just written to.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lamina.errors import StoreError
from lamina.layer.compression import decompressing_reader
from lamina.layer.overlayapply import apply_layer_as_overlay
from lamina.layer.treeremoval import discard_tree
from lamina.oci import mediatypes as mt
from lamina.oci.identity import chain_ids

SNAPSHOT_ROOT_MODE = 0o755  # the mode of every snapshot's root dir (unpacked or adopted)


class Snapshots:
    def __init__(self, store):
        self.store = store
        self.root = Path(store.root) / "snapshots"

    def path(self, chain_id: str) -> Path:
        return self.root / chain_id.split(":", 1)[1] / "fs"

    def lower_dirs(self, diff_ids: Sequence[str]) -> list[Path]:
        """Unpacked dirs for an image's layers, topmost first (overlayfs lowerdir order)."""
        topmost_first: list[Path] = []
        for chain, diff_id in zip(chain_ids(diff_ids), diff_ids, strict=True):
            topmost_first.insert(0, self.ensure(chain, diff_id, lowers=topmost_first))
        return topmost_first

    def ensure(self, chain_id: str, diff_id: str, *, lowers: Sequence[Path] = ()) -> Path:
        """The unpacked dir of the layer ``diff_id`` whose chain is ``chain_id``, made if missing.

        ``lowers`` are the dirs of the layers below it, topmost first: they give parent
        directories the layer tar omits their attributes (see ``lamina.layer.overlayapply``).
        """
        target = self.path(chain_id)
        if target.is_dir():
            return target
        layer = self.store.layer_for(diff_id)
        if layer is None:
            raise StoreError(f"layer {diff_id} is not in the store")

        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=self.root))
        try:
            (staging / "fs").mkdir()
            os.chmod(staging / "fs", SNAPSHOT_ROOT_MODE)
            with self.store.content.open(layer.blob_digest) as blob:
                stream = decompressing_reader(blob, mt.layer_compression(layer.media_type))
                apply_layer_as_overlay(stream, staging / "fs", lowers=lowers)
            target.parent.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(staging, target.parent)
            except OSError:  # another process made it first
                if not target.is_dir():
                    raise
        finally:
            if staging.exists():
                discard_tree(staging)
        return target

    def adopt(self, chain_id: str, tree: Path) -> bool:
        """Move ``tree`` (in snapshot form, on the store's file system) in as ``chain_id``'s snapshot.

        The caller made ``tree`` exactly what unpacking the layer gives, except for the root dir,
        which gets the owner and mode every snapshot root has.

        ``tree`` is first moved into a holder dir next to it (so a crash leaves it where its
        owner cleans up), then the holder is renamed into place in one step. False when the
        snapshot exists already or the rename is impossible (another file system): ``tree``
        then stays where its owner removes it, and the snapshot is unpacked when needed.
        """
        target = self.path(chain_id)
        if target.is_dir():
            return False
        holder = tree.parent / f".snapshot-{chain_id.split(':', 1)[1]}"
        holder.mkdir()
        os.chown(tree, 0, 0)
        os.chmod(tree, SNAPSHOT_ROOT_MODE)  # as unpacking makes it: no layer has a root entry
        os.rename(tree, holder / "fs")
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(holder, target.parent)
        except OSError:  # another process made it first, or another file system
            return False
        return True

    def remove_unused(self, live_chain_ids: set[str]) -> None:
        if not self.root.exists():
            return
        for entry in self.root.iterdir():
            if entry.name.startswith("unpack-"):
                continue
            if f"sha256:{entry.name}" not in live_chain_ids:
                discard_tree(entry)


class MergedView:
    """A read-only view of a stack of lower dirs: overlayfs when there are several, else the dir.

    Used where the builder must look *into* an image (``/etc/passwd`` for ``--chown``, a
    destination that is a symlink): ``with MergedView(lowers) as root: ...``.
    """

    def __init__(self, lower_dirs: Sequence[Path]):
        self.lower_dirs = list(lower_dirs)
        self.mountpoint: Path | None = None

    def __enter__(self) -> Path:
        if not self.lower_dirs:
            self.mountpoint = Path(tempfile.mkdtemp(prefix="lamina-empty-"))
            return self.mountpoint
        if len(self.lower_dirs) == 1:
            return self.lower_dirs[0]
        import subprocess

        self.mountpoint = Path(tempfile.mkdtemp(prefix="lamina-view-"))
        options = "lowerdir=" + ":".join(str(d) for d in self.lower_dirs)
        result = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"ro,{options}", str(self.mountpoint)],
                                capture_output=True)
        if result.returncode != 0:
            os.rmdir(self.mountpoint)
            raise StoreError(f"cannot mount an overlay view of the image: {result.stderr.decode().strip()}")
        self._mounted = True
        return self.mountpoint

    def __exit__(self, *exc_info: object) -> None:
        if self.mountpoint is None:
            return
        if getattr(self, "_mounted", False):
            import subprocess

            subprocess.run(["umount", str(self.mountpoint)], capture_output=True)
        try:
            os.rmdir(self.mountpoint)  # never rmtree: a failed umount must not touch the layers
        except OSError:
            pass
