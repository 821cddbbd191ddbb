"""Derived per-layer data kept beside the store: what a reader learnt from a layer, by diffID.

Why: a layer is immutable, so what a reader (the SBOM walker, say) found in it stays true; a
second ``sbom`` or ``scan`` of an image, or of another image sharing its base, need not read
that layer again. An entry is a directory ``<root>/cache/<kind>/<diff-id hex>-<stamp>/`` whose
files the producer chooses. ``stamp`` names the producer's code and settings: when it changes,
the old entries simply stop matching (and are swept), so invalidation never needs a decision.

Entries appear whole (built in a temp directory, then renamed) and are only ever read by their
producer. A put sweeps the entries of layers the store no longer has and of other stamps of
the same kind, so the cache never outlives its layers by more than one put; ``clear`` (used by
prune) removes everything. Only layers read from the store may be cached: their blobs were
verified on the way in, while an archive's diffID is a claim until its bytes are hashed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from lamina.oci.digest import split_digest

__all__ = ["LayerCache", "cache_root"]

_TEMP_PREFIX = ".tmp-"
#: A temp directory untouched this long belongs to a process that died.
_STALE_TEMP_SECONDS = 3600


def cache_root(store_root: str | os.PathLike[str]) -> Path:
    """Where every kind of layer cache of the store at ``store_root`` lives."""
    return Path(store_root) / "cache"


class LayerCache:
    """One kind of per-layer entry (``kind``: "sbom", …) written by code identified by ``stamp``.

    ``by_chain``: entries are keyed by the chain ID of a stack of layers (what is true of a whole
    filesystem, such as its package inventory) instead of a single layer's diffID; they live
    as long as some image of the store has that stack."""

    def __init__(self, store_root: str | os.PathLike[str], kind: str, stamp: str, *, by_chain: bool = False):
        if not kind.isidentifier() or not stamp.isalnum():
            raise ValueError(f"layer cache kind {kind!r} / stamp {stamp!r}")
        self.store_root = Path(store_root)
        self.directory = cache_root(store_root) / kind
        self.stamp = stamp
        self.by_chain = by_chain

    def entry(self, diff_id: str) -> Path | None:
        """The entry directory of ``diff_id``, or None when there is none for this stamp."""
        path = self._path(diff_id)
        return path if path.is_dir() else None

    def begin(self) -> Path:
        """A private directory to build an entry in; hand it to :meth:`commit` or :meth:`abandon`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=self.directory))

    def commit(self, diff_id: str, staging: Path) -> None:
        """Publish ``staging`` as the entry of ``diff_id`` (a concurrent writer's equal entry wins)."""
        try:
            os.rename(staging, self._path(diff_id))
        except OSError:  # already there (another process cached the same layer): ours is a copy
            self.abandon(staging)
            return
        self._sweep(keep=diff_id)

    def abandon(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def temp_dir(self) -> Path:
        """A place for the producer's own temp files on the cache's file system (hard links work)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory

    def _path(self, diff_id: str) -> Path:
        algorithm, hex_digest = split_digest(diff_id)
        return self.directory / f"{algorithm}-{hex_digest}-{self.stamp}"

    def _sweep(self, *, keep: str) -> None:
        """Remove entries of other stamps and of layers no store row names any more."""
        live = self._live_diff_ids()
        kept = self._path(keep).name
        for path in self.directory.iterdir():
            name = path.name
            if name == kept:
                continue
            if name.startswith((_TEMP_PREFIX, "lamina-")):  # being built, or a killed producer's
                try:
                    stale = time.time() - path.stat().st_mtime > _STALE_TEMP_SECONDS
                except OSError:
                    stale = False
                if stale:
                    shutil.rmtree(path, ignore_errors=True)
                continue
            algorithm, _, rest = name.partition("-")
            hex_digest, _, stamp = rest.partition("-")
            if stamp != self.stamp or (live is not None and f"{algorithm}:{hex_digest}" not in live):
                shutil.rmtree(path, ignore_errors=True)

    def _live_diff_ids(self) -> set[str] | None:
        """The diffIDs the store has layers for (chain IDs of its images' stacks, ``by_chain``);
        None when that cannot be read (then everything is kept)."""
        import sqlite3

        try:
            connection = sqlite3.connect(f"file:{self.store_root / 'metadata.db'}?mode=ro", uri=True, timeout=5)
            try:
                if not self.by_chain:
                    return {row[0] for row in connection.execute("SELECT diff_id FROM layers")}
                stacks: dict[str, list[str]] = {}
                for image_id, diff_id in connection.execute(
                        "SELECT image_id, diff_id FROM image_layers ORDER BY image_id, position"):
                    stacks.setdefault(image_id, []).append(diff_id)
            finally:
                connection.close()
        except sqlite3.Error:
            return None
        from lamina.oci.identity import chain_ids

        return {chain for stack in stacks.values() for chain in chain_ids(stack)}


def clear(store_root: str | os.PathLike[str]) -> int:
    """Remove every layer cache of the store; returns the bytes freed (for prune's report)."""
    root = cache_root(store_root)
    freed = 0
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            try:
                freed += os.lstat(os.path.join(dirpath, filename)).st_size
            except OSError:
                pass
    shutil.rmtree(root, ignore_errors=True)
    return freed
