"""``lamina fsck``: verify every blob and metadata row; with ``repair``, remove what is wrong.

Content nothing references (a blob committed by a ``load``/``pull``/``import``/``build`` that
was killed before its metadata transaction, a temp file of a writer killed mid-blob) is not a
problem: the store's rules make it invisible to every image, and it runs under the GC lock, so
no live writer owns it. It is reported as reclaimable: ``--repair`` and any GC sweep (an
``rmi``) remove the blobs, the next writer the temp files, and the next ``load`` or ``pull``
of the same content reuses the blobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lamina.store import locks

if TYPE_CHECKING:
    from lamina.store.store import Store

__all__ = ["FsckProblem", "FsckReport", "check_store"]


@dataclass(slots=True)
class FsckProblem:
    # problems: 'corrupt-blob', 'missing-blob', 'missing-layer', 'dangling-tag', 'bad-config', 'metadata';
    # reclaimable (not problems): 'unreferenced-blob', 'abandoned-ingest'
    kind: str
    subject: str
    detail: str


@dataclass(slots=True)
class FsckReport:
    checked_blobs: int = 0
    problems: list[FsckProblem] = field(default_factory=list)
    repaired: bool = False
    #: garbage that is no problem: content left by interrupted commands, which nothing references
    reclaimable: list[FsckProblem] = field(default_factory=list)
    reclaimable_bytes: int = 0


def check_store(store: Store, *, repair: bool = False) -> FsckReport:
    report = FsckReport()
    problems = report.problems
    with locks.gc_lock(store.root):
        corrupt: set[str] = set()
        for digest in list(store.content.digests()):
            report.checked_blobs += 1
            try:
                ok = store.content.verify(digest)
            except Exception as exc:  # unreadable, bad name
                ok = False
                problems.append(FsckProblem("corrupt-blob", digest, str(exc)))
            if not ok:
                corrupt.add(digest)
                problems.append(FsckProblem("corrupt-blob", digest, "content does not match its digest"))
        present = set(store.content.digests()) - corrupt
        referenced: set[str] = set()
        for (image_id,) in store.meta.query("SELECT id FROM images"):
            referenced.add(image_id)
            if image_id not in present:
                problems.append(FsckProblem("missing-blob", image_id, "image config is missing or corrupt"))
                continue
            try:
                config = store.config(image_id)
            except Exception as exc:
                problems.append(FsckProblem("bad-config", image_id, str(exc)))
                continue
            if list(config.rootfs.diff_ids) != store.image_diff_ids(image_id):
                problems.append(FsckProblem("bad-config", image_id, "layer rows disagree with rootfs.diff_ids"))
            for diff_id in config.rootfs.diff_ids:
                blobs = [layer.blob_digest for layer in store.layers_of(diff_id)]
                referenced.update(blobs)
                if not any(b in present for b in blobs):
                    problems.append(FsckProblem("missing-layer", image_id, f"no stored blob for layer {diff_id}"))
        for (digest,) in store.meta.query("SELECT digest FROM manifests"):
            referenced.add(digest)
            if digest not in present:
                problems.append(FsckProblem("missing-blob", digest, "kept manifest is missing"))
        for name, image_id in store.meta.query(
            "SELECT name, image_id FROM tags WHERE image_id NOT IN (SELECT id FROM images)"
        ):
            problems.append(FsckProblem("dangling-tag", name, f"points at missing image {image_id}"))
        for digest in sorted(present - referenced):
            report.reclaimable.append(FsckProblem("unreferenced-blob", digest, "not referenced by any image"))
            report.reclaimable_bytes += _size(store, digest)
        for path, size in store.content.abandoned_ingests():
            report.reclaimable.append(FsckProblem("abandoned-ingest", path.name, "temp file of a killed writer"))
            report.reclaimable_bytes += size
        integrity = store.meta.query("PRAGMA integrity_check")[0][0]
        if integrity != "ok":
            problems.append(FsckProblem("metadata", "metadata.db", integrity))
        if repair and (problems or report.reclaimable):
            _repair(store, corrupt, problems)
            report.repaired = True
    return report


def _size(store: Store, digest: str) -> int:
    try:
        return store.content.size(digest)
    except OSError:
        return 0


def _repair(store: Store, corrupt: set[str], problems) -> None:
    """Drop corrupt blobs and everything that needs them; then sweep orphans."""
    for digest in corrupt:
        store.content.delete(digest)
    broken_images = {p.subject for p in problems if p.kind in ("missing-blob", "missing-layer", "bad-config")}
    with store.meta.transaction() as db:
        for image_id in broken_images:
            db.execute("DELETE FROM tags WHERE image_id=?", (image_id,))
            db.execute("DELETE FROM repo_digests WHERE image_id=?", (image_id,))
            db.execute("DELETE FROM image_layers WHERE image_id=?", (image_id,))
            db.execute("DELETE FROM manifests WHERE image_id=? OR digest=?", (image_id, image_id))
            db.execute("DELETE FROM images WHERE id=?", (image_id,))
        for digest in corrupt:
            db.execute("DELETE FROM layers WHERE blob_digest=?", (digest,))
        db.execute("DELETE FROM tags WHERE image_id NOT IN (SELECT id FROM images)")
    store._sweep()
