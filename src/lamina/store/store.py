"""The local image store: content + metadata, and the image operations on them.

Layout of the store root (``LAMINA_ROOT``)::

    blobs/sha256/<hex>   configs, layers, manifests, indexes (immutable, verified)
    ingest/              temp files of blobs being written
    metadata.db          SQLite (WAL): images, layers, tags, repo digests, manifests
    gc.lock              leases vs. garbage collection
"""

from __future__ import annotations

import json
import os
import time
from collections import namedtuple
from collections.abc import Iterable, Sequence
from pathlib import Path

from lamina import TYPE_CHECKING
from lamina.errors import ConflictError, ImageNotFoundError, InvalidReferenceError, ManifestError
from lamina.oci.digest import looks_like_id_prefix, short_id
from lamina.oci.reference import Reference, parse_reference
from lamina.oci.timefmt import parse_rfc3339
from lamina.store import gcroots, locks
from lamina.store.content import ContentStore
from lamina.store.location import default_root
from lamina.store.metadata import Metadata

if TYPE_CHECKING:
    from lamina.oci.models import ConfigView


class LayerRecord(namedtuple("LayerRecord", "diff_id blob_digest media_type blob_size diff_size")):
    """One stored representation of a layer: its diffID and the blob holding it."""

    # diff_id: str; blob_digest: str; media_type: str; blob_size: int; diff_size: int
    __slots__ = ()


ATTACHMENT_ROW = "attachment:"
"""The ``platform`` of a manifests row that is an image's cosign attachment manifest (then its tag)."""
ATTACHMENT_MEDIA_TYPE = "application/vnd.lamina.cosign-attachment.v1+json"
"""The media type recorded for an attachment manifest (an OCI manifest, but not an image's own:
push and save, which look for an image's kept manifests, pass it by)."""
ATTACHMENT_BLOB_ROW = "attachment-blob"
"""The ``platform`` of a manifests row that keeps a blob an attachment manifest names."""


class ImageRecord:
    """An image's row with its tags (full references) and repo digests (``repo@digest``).
    A plain class, not a dataclass: every command loads this module, and making a dataclass
    costs about a millisecond at import."""

    __slots__ = ("id", "config_media_type", "created", "created_ts", "size", "parent", "labels", "tags",
                 "repo_digests")

    def __init__(self, id: str, config_media_type: str, created: str, created_ts: float, size: int, parent: str,
                 labels: dict[str, str], tags: list[str] | None = None, repo_digests: list[str] | None = None):
        self.id, self.config_media_type, self.created, self.created_ts = id, config_media_type, created, created_ts
        self.size, self.parent, self.labels = size, parent, labels
        self.tags = [] if tags is None else tags
        self.repo_digests = [] if repo_digests is None else repo_digests

    def __eq__(self, other: object) -> bool:
        return type(other) is ImageRecord and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ImageRecord(id={self.id!r}, tags={self.tags!r})"


class RemovalReport:
    """What ``rmi`` did: references untagged (familiar names), image IDs and chain IDs deleted."""

    __slots__ = ("untagged", "deleted")

    def __init__(self, untagged: list[str] | None = None, deleted: list[str] | None = None):
        self.untagged = [] if untagged is None else untagged
        self.deleted = [] if deleted is None else deleted

    def __eq__(self, other: object) -> bool:
        return type(other) is RemovalReport and (self.untagged, self.deleted) == (other.untagged, other.deleted)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RemovalReport(untagged={self.untagged!r}, deleted={self.deleted!r})"


class Store:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.content = ContentStore(self.root)
        self.content.ensure()
        self.meta = Metadata(self.root / "metadata.db")
        self._ingest_swept = False

    def close(self) -> None:
        self.meta.close()

    # ----- leases -------------------------------------------------------------------
    def lease(self):
        """The writers' shared lock (see locks). The first lease of a process also sweeps the
        temp files that writers killed mid-blob left in ``ingest/``, so a command after a
        ``kill -9`` starts from a clean ingest area (the lock tells a dead writer's file apart)."""
        if not getattr(self, "_ingest_swept", False):
            self._ingest_swept = True
            self.content.sweep_ingest()
        return locks.lease(self.root)

    # ----- images -------------------------------------------------------------------
    def add_image(
        self,
        config_bytes: bytes,
        config_media_type: str,
        layers: Sequence[LayerRecord],
        *,
        parent: str = "",
        tags: Sequence[Reference] = (),
        replaced: list[tuple[Reference, str]] | None = None,
    ) -> str:
        """Record an image whose config and layer blobs are already in the content store.

        ``tags`` are set in the same transaction, so a concurrent prune never sees the new
        image untagged; tags that pointed elsewhere before are appended to ``replaced``.
        """
        from lamina.oci.models import parse_config

        config = parse_config(config_bytes)
        diff_ids = [layer.diff_id for layer in layers]
        if config.rootfs.diff_ids != diff_ids:
            raise ManifestError("image config's rootfs.diff_ids do not match its layers")
        image_id = self.content.ingest_bytes(config_bytes)
        for layer in layers:
            if not self.content.has(layer.blob_digest):
                raise ManifestError(f"layer blob {layer.blob_digest} is missing")
        labels = (config.config or {}).get("Labels") or {}
        created = config.created or ""
        with self.meta.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO layers VALUES (?,?,?,?,?)",
                [(x.diff_id, x.blob_digest, x.media_type, x.blob_size, x.diff_size) for x in layers],
            )
            known = db.execute("SELECT parent FROM images WHERE id=?", (image_id,)).fetchone()
            if not known:
                self._insert_image(db, image_id, config_media_type, created, diff_ids, parent, labels)
            elif parent and not known[0]:
                # a build step that gives an image the store already has (a loaded --cache-from
                # image, restored step by step) links it to the step before, as docker's SetParent:
                # the intermediate images are then its ancestors, not dangling images
                db.execute("UPDATE images SET parent=? WHERE id=?", (parent, image_id))
            for ref in tags:
                previous = self._set_tag(db, image_id, ref)
                if previous and replaced is not None:
                    replaced.append((ref, previous))
        return image_id

    def _insert_image(self, db, image_id, config_media_type, created, diff_ids, parent, labels) -> None:
        size = sum(self._diff_size(db, diff_id) for diff_id in set(diff_ids))
        db.execute(
            "INSERT INTO images VALUES (?,?,?,?,?,?,?,?)",
            (image_id, config_media_type, created, parse_rfc3339(created), size, parent,
             json.dumps(labels), time.time()),
        )
        db.executemany(
            "INSERT INTO image_layers VALUES (?,?,?)",
            [(image_id, i, diff_id) for i, diff_id in enumerate(diff_ids)],
        )

    @staticmethod
    def _diff_size(db, diff_id: str) -> int:
        row = db.execute("SELECT diff_size FROM layers WHERE diff_id=? LIMIT 1", (diff_id,)).fetchone()
        return row[0] if row else 0

    def layer_for(self, diff_id: str) -> LayerRecord | None:
        """The preferred stored blob for a diffID: uncompressed first (fast save/snapshots)."""
        rows = self.meta.query(
            "SELECT * FROM layers WHERE diff_id=? ORDER BY (blob_digest = diff_id) DESC", (diff_id,)
        )
        for row in rows:
            if self.content.has(row["blob_digest"]):
                return LayerRecord(*tuple(row))
        return None

    def layer_of_blob(self, blob_digest: str, diff_id: str | None = None) -> LayerRecord | None:
        """A layer row recording this blob (for this diffID when given): it was checked when stored."""
        rows = self.meta.query(
            "SELECT * FROM layers WHERE blob_digest=?" + ("" if diff_id is None else " AND diff_id=?") + " LIMIT 1",
            (blob_digest,) if diff_id is None else (blob_digest, diff_id))
        return LayerRecord(*tuple(rows[0])) if rows else None

    def tags_in_repository(self, repository: str) -> list[str]:
        """The full tag references of ``repository``, by tag."""
        return [r[0] for r in self.meta.query("SELECT name FROM tags WHERE repository=? ORDER BY tag", (repository,))]

    def discard_unrecorded(self, digests: Iterable[str]) -> None:
        """Delete blobs a failed transfer wrote, except those a row names meanwhile (another
        transfer of the same content, holding the lease too, found them in place and recorded them)."""
        live = gcroots.live_blobs(self.meta)
        for digest in digests:
            if digest not in live:
                self.content.delete(digest)

    def layers_of(self, diff_id: str) -> list[LayerRecord]:
        return [LayerRecord(*tuple(r)) for r in self.meta.query("SELECT * FROM layers WHERE diff_id=?", (diff_id,))]

    def add_layer_record(self, layer: LayerRecord) -> None:
        with self.meta.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO layers VALUES (?,?,?,?,?)",
                (layer.diff_id, layer.blob_digest, layer.media_type, layer.blob_size, layer.diff_size),
            )

    def image_diff_ids(self, image_id: str) -> list[str]:
        rows = self.meta.query("SELECT diff_id FROM image_layers WHERE image_id=? ORDER BY position", (image_id,))
        return [row[0] for row in rows]

    def config_bytes(self, image_id: str) -> bytes:
        return self.content.read(image_id)

    def config(self, image_id: str) -> ConfigView:
        from lamina.oci.models import parse_config

        return parse_config(self.config_bytes(image_id))

    def image(self, image_id: str) -> ImageRecord:
        rows = self.meta.query("SELECT * FROM images WHERE id=?", (image_id,))
        if not rows:
            raise ImageNotFoundError(f"No such image: {image_id}")
        return self._records(rows)[0]

    def list_images(self) -> list[ImageRecord]:
        return self._records(self.meta.query("SELECT * FROM images ORDER BY created_ts DESC, id"))

    def _records(self, rows) -> list[ImageRecord]:
        records = {
            row["id"]: ImageRecord(
                row["id"], row["config_media_type"], row["created"], row["created_ts"], row["size"],
                row["parent"], json.loads(row["labels"]),
            )
            for row in rows
        }
        if len(records) == 1:
            (image_id,) = records
            tag_rows = self.meta.query("SELECT name, image_id FROM tags WHERE image_id=? ORDER BY name", (image_id,))
            digest_rows = self.meta.query(
                "SELECT repository, manifest_digest, image_id FROM repo_digests WHERE image_id=? ORDER BY 1,2",
                (image_id,),
            )
        else:
            tag_rows = self.meta.query("SELECT name, image_id FROM tags ORDER BY name")
            digest_rows = self.meta.query("SELECT repository, manifest_digest, image_id FROM repo_digests ORDER BY 1,2")
        for row in tag_rows:
            if row[1] in records:
                records[row[1]].tags.append(row[0])
        for row in digest_rows:
            if row[2] in records:
                records[row[2]].repo_digests.append(f"{row[0]}@{row[1]}")
        return list(records.values())

    def children(self, image_id: str) -> list[str]:
        return [r[0] for r in self.meta.query("SELECT id FROM images WHERE parent=?", (image_id,))]

    # ----- names --------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        """Image ID for a name the way docker resolves it: ID, tag, digest, then ID prefix."""
        if name.startswith("sha256:") and len(name) == 71:
            if self.meta.query("SELECT 1 FROM images WHERE id=?", (name,)):
                return name
            raise ImageNotFoundError(f"No such image: {name}")
        ref: Reference | None
        try:
            ref = parse_reference(name)
        except InvalidReferenceError:
            ref = None
            if not looks_like_id_prefix(name):
                raise
        if ref is not None:
            image_id = self.lookup(ref)
            if image_id:
                return image_id
        if looks_like_id_prefix(name):
            prefix = name if name.startswith("sha256:") else "sha256:" + name
            rows = self.meta.query("SELECT id FROM images WHERE id >= ? AND id < ? LIMIT 2", (prefix, prefix + "g"))
            if len(rows) == 1:
                return rows[0][0]
            if len(rows) > 1:
                raise ImageNotFoundError(f"ambiguous image ID prefix {name!r}: more than one image matches")
        raise ImageNotFoundError(f"No such image: {name}")

    def lookup(self, ref: Reference) -> str | None:
        if ref.digest is not None:
            rows = self.meta.query(
                "SELECT image_id FROM repo_digests WHERE repository=? AND manifest_digest=?",
                (ref.repository, ref.digest),
            )
            if not rows:  # a digest may also name a manifest we keep (e.g. from a save/load)
                rows = self.meta.query(
                    "SELECT image_id FROM manifests WHERE digest=? AND image_id != ''", (ref.digest,)
                )
        else:
            rows = self.meta.query("SELECT image_id FROM tags WHERE name=?", (str(ref),))
        return rows[0][0] if rows else None

    def tag(self, image_id: str, ref: Reference) -> str | None:
        """Point ``ref`` (tag form) at an image; returns the image it pointed at before, if any."""
        if ref.tag is None:
            raise InvalidReferenceError(f"refusing to create a tag with a digest reference: {ref.familiar}")
        with self.meta.transaction() as db:
            if not db.execute("SELECT 1 FROM images WHERE id=?", (image_id,)).fetchone():
                raise ImageNotFoundError(f"No such image: {image_id}")
            return self._set_tag(db, image_id, ref)

    @staticmethod
    def _set_tag(db, image_id: str, ref: Reference) -> str | None:
        if ref.tag is None:
            raise InvalidReferenceError(f"refusing to create a tag with a digest reference: {ref.familiar}")
        previous = db.execute("SELECT image_id FROM tags WHERE name=?", (str(ref),)).fetchone()
        db.execute(
            "INSERT OR REPLACE INTO tags(name, repository, tag, image_id) VALUES (?,?,?,?)",
            (str(ref), ref.repository, ref.tag, image_id),
        )
        return previous[0] if previous and previous[0] != image_id else None

    def set_tag_target(self, ref: Reference, index_digest: str) -> None:
        """Remember that a tag names a multi-platform image (its index), not only the image it resolves to here."""
        with self.meta.transaction() as db:
            db.execute("UPDATE tags SET target_digest=? WHERE name=?", (index_digest, str(ref)))

    def tag_target(self, ref: Reference) -> str:
        rows = self.meta.query("SELECT target_digest FROM tags WHERE name=?", (str(ref),))
        return rows[0][0] if rows else ""

    def add_repo_digest(self, repository: str, manifest_digest: str, image_id: str) -> None:
        with self.meta.transaction() as db:
            db.execute("INSERT OR REPLACE INTO repo_digests VALUES (?,?,?)", (repository, manifest_digest, image_id))

    def add_manifest(self, digest: str, media_type: str, image_id: str = "", platform: str = "",
                     children: Iterable[str] = ()) -> None:
        with self.meta.transaction() as db:
            db.execute("INSERT OR REPLACE INTO manifests VALUES (?,?,?,?)", (digest, media_type, image_id, platform))
            db.executemany("INSERT OR IGNORE INTO index_children VALUES (?,?)", [(digest, c) for c in children])

    def manifest_image(self, digest: str) -> str:
        """The stored image a kept image manifest describes ('' for an index or an unknown digest)."""
        rows = self.meta.query("SELECT image_id FROM manifests WHERE digest=?", (digest,))
        return rows[0][0] if rows else ""

    def untag(self, ref: Reference) -> bool:
        """Drop one tag and nothing else (a manifest list's name): the images it named stay."""
        with self.meta.transaction() as db:
            return db.execute("DELETE FROM tags WHERE name=?", (str(ref),)).rowcount > 0

    def add_attachment(self, image_id: str, tag: str, manifest_digest: str,
                       blobs: Iterable[tuple[str, str]]) -> None:
        """Keep a cosign attachment manifest (``sha256-<hex>.sig``/``.att``) of an image and its
        blobs (digest, media type) as manifest rows of that image: GC keeps them while the image
        lives and ``rmi`` drops them with it; the row's platform column names the tag."""
        with self.meta.transaction() as db:
            db.execute("DELETE FROM manifests WHERE image_id=? AND platform=?", (image_id, ATTACHMENT_ROW + tag))
            db.executemany("INSERT OR IGNORE INTO manifests VALUES (?,?,?,?)",
                           [(digest, media_type, image_id, ATTACHMENT_BLOB_ROW) for digest, media_type in blobs])
            db.execute("INSERT OR REPLACE INTO manifests VALUES (?,?,?,?)",
                       (manifest_digest, ATTACHMENT_MEDIA_TYPE, image_id, ATTACHMENT_ROW + tag))

    def attachments_of(self, image_id: str) -> dict[str, str]:
        """The image's kept attachment manifests: tag -> manifest digest."""
        return {r[0][len(ATTACHMENT_ROW):]: r[1] for r in self.meta.query(
            "SELECT platform, digest FROM manifests WHERE image_id=? AND platform LIKE ?",
            (image_id, ATTACHMENT_ROW + "%"))}

    def manifests_of(self, image_id: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.meta.query(
            "SELECT digest, media_type FROM manifests WHERE image_id=? ORDER BY digest", (image_id,))]

    # ----- removal ------------------------------------------------------------------
    def remove_dangling(self, image_id: str) -> RemovalReport:
        """Delete an image only if, under the GC lock, nothing names it and nothing builds on it."""
        report = RemovalReport()
        self._delete(image_id, report, prune=True, only_if_unreferenced=True)
        return report

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> RemovalReport:
        """docker rmi for one name: untag, or delete the image when nothing else names it."""
        report = RemovalReport()
        image_id = self.resolve(name)
        record = self.image(image_id)
        by_name = self._is_name(name, image_id)
        if by_name is not None and not force and len(record.tags) + len(record.repo_digests) == 1:
            self._containers_block(name, image_id, by_name, force, report)  # raises if one uses it
        if by_name is not None and (len(record.tags) + len(record.repo_digests) > 1 or self.children(image_id)):
            with self.meta.transaction() as db:
                self._untag(db, by_name, report)
            if self._references(image_id) or self.children(image_id):
                return report
        elif self._containers_block(name, image_id, by_name, force, report):
            return report
        else:
            repositories = {t.rsplit(":", 1)[0] for t in record.tags} | {d.split("@")[0] for d in record.repo_digests}
            if self.children(image_id):
                raise ConflictError(
                    f"conflict: unable to delete {short_id(image_id)} (cannot be forced) - image has dependent child images"
                )
            if len(repositories) > 1 and not force:
                raise ConflictError(
                    f"conflict: unable to delete {short_id(image_id)} (must be forced) - "
                    "image is referenced in multiple repositories"
                )
        self._delete(image_id, report, prune=prune)
        return report

    def containers_using(self, image_id: str) -> list[tuple[str, str]]:
        """(container ID, status) of the containers created from the image, oldest first."""
        from lamina.store.repos.containers import ContainerRows

        return [(row["id"], row["status"]) for row in ContainerRows(self.meta).using_image(image_id)]

    def _containers_block(self, name: str, image_id: str, by_name: Reference | None, force: bool,
                          report: RemovalReport) -> bool:
        """docker's rmi conflicts with containers. Raises ConflictError, or returns True when the
        image must stay (``-f`` untagged it, but a container still uses it)."""
        using = self.containers_using(image_id)
        if not using:
            return False
        running = [cid for cid, status in using if status in ("running", "paused")]
        if by_name is None and running:
            raise ConflictError(f"conflict: unable to delete {short_id(image_id)} (cannot be forced) - image is "
                                f"being used by running container {running[0][:12]}")
        if not force:
            if by_name is not None:
                raise ConflictError(f'conflict: unable to remove repository reference "{name}" (must force) - '
                                    f"container {using[0][0][:12]} is using its referenced image {short_id(image_id)}")
            raise ConflictError(f"conflict: unable to delete {short_id(image_id)} (must be forced) - image is being "
                                f"used by stopped container {using[0][0][:12]}")
        record = self.image(image_id)
        with self.meta.transaction() as db:
            for tag in record.tags:
                self._untag(db, parse_reference(tag), report)
            for repo_digest in record.repo_digests:
                self._untag(db, parse_reference(repo_digest, default_tag=False), report)
        return True

    def _is_name(self, name: str, image_id: str) -> Reference | None:
        """The reference ``name`` stands for, if it names the image by tag or digest (not by ID)."""
        try:
            ref = parse_reference(name)
        except InvalidReferenceError:
            return None
        return ref if self.lookup(ref) == image_id else None

    def _references(self, image_id: str) -> int:
        return sum(gcroots.image_roots(self.meta, image_id, gcroots.NAME_ROOTS).values())

    @staticmethod
    def _untag(db, ref: Reference, report: RemovalReport) -> None:
        if ref.digest is not None:
            db.execute("DELETE FROM repo_digests WHERE repository=? AND manifest_digest=?", (ref.repository, ref.digest))
        else:
            db.execute("DELETE FROM tags WHERE name=?", (str(ref),))
        report.untagged.append(ref.familiar)

    def _delete(self, image_id: str, report: RemovalReport, *, prune: bool,
                only_if_unreferenced: bool = False) -> None:
        from lamina.oci.identity import chain_ids

        pending = [image_id]
        with locks.gc_lock(self.root):
            while pending:
                current = pending.pop()
                if not self.meta.query("SELECT 1 FROM images WHERE id=?", (current,)):
                    continue  # another process removed it meanwhile
                if only_if_unreferenced and gcroots.image_roots(self.meta, current):
                    continue
                record = self.image(current)
                diff_ids = self.image_diff_ids(current)
                with self.meta.transaction() as db:
                    for name in record.tags:
                        db.execute("DELETE FROM tags WHERE name=?", (name,))
                        report.untagged.append(parse_reference(name).familiar)
                    for repo_digest in record.repo_digests:
                        repository, digest = repo_digest.split("@")
                        db.execute("DELETE FROM repo_digests WHERE repository=? AND manifest_digest=?",
                                   (repository, digest))
                        report.untagged.append(parse_reference(repo_digest, default_tag=False).familiar)
                    db.execute("DELETE FROM image_layers WHERE image_id=?", (current,))
                    db.execute("DELETE FROM images WHERE id=?", (current,))
                    db.execute("DELETE FROM manifests WHERE image_id=?", (current,))
                    still_used = {
                        r[0] for r in db.execute(
                            f"SELECT DISTINCT diff_id FROM image_layers WHERE diff_id IN ({','.join('?' * len(diff_ids))})",
                            diff_ids,
                        )
                    } if diff_ids else set()
                report.deleted.append(current)
                chains = chain_ids(diff_ids)
                report.deleted.extend(c for c, d in zip(chains, diff_ids, strict=True) if d not in still_used)
                if prune and record.parent:
                    parent = self.meta.query("SELECT id FROM images WHERE id=?", (record.parent,))
                    if parent and not gcroots.image_roots(self.meta, record.parent):
                        pending.append(record.parent)
            self._sweep()

    # ----- garbage collection -------------------------------------------------------
    def collect_garbage(self) -> int:
        with locks.gc_lock(self.root):
            return self._sweep()

    def _sweep(self) -> int:
        """Delete metadata rows and blobs nothing references; caller holds the GC lock."""
        with self.meta.transaction() as db:
            db.execute("DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)")
            db.execute("DELETE FROM manifests WHERE image_id != '' AND image_id NOT IN (SELECT id FROM images)")
            db.execute(
                "DELETE FROM index_children WHERE child_digest NOT IN (SELECT digest FROM manifests)")
            db.execute(
                "DELETE FROM manifests WHERE image_id = '' AND digest NOT IN (SELECT index_digest FROM index_children)")
            live = gcroots.live_blobs(db)
        freed = 0
        for digest in list(self.content.digests()):
            if digest not in live:
                freed += self.content.delete(digest)
        freed += self.content.sweep_ingest()  # blobs half-written by killed writers
        for leftover in self.content.ingest_dir.iterdir():  # other modules' temp files
            try:
                if time.time() - leftover.stat().st_mtime > 3600:
                    leftover.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
        self._sweep_snapshots()
        return freed

    def _sweep_snapshots(self) -> None:
        """Delete unpacked layers no image needs any more (they are derived data).

        Live: every chain of every image in the store, and whatever a container's or a running
        step's overlay links to (``l/N``). Builds hold the lease for their whole run, so none is
        half-way through adopting a snapshot while this runs under the GC lock.
        """
        from lamina.oci.identity import chain_ids
        from lamina.store.snapshots import Snapshots

        snapshots = Snapshots(self)
        if not snapshots.root.is_dir():
            return
        layers: dict[str, list[str]] = {}
        for image_id, diff_id in self.meta.query(
                "SELECT image_id, diff_id FROM image_layers ORDER BY image_id, position"):
            layers.setdefault(image_id, []).append(diff_id)
        live = {chain for diff_ids in layers.values() for chain in chain_ids(diff_ids)}
        for holder in (self.root / "containers", self.root / "runtime" / "ephemeral"):
            live |= _linked_snapshot_chains(holder, snapshots.root)
        snapshots.remove_unused(live)


def _linked_snapshot_chains(holder: Path, snapshot_root: Path) -> set[str]:
    """Chain IDs of the snapshots that overlay lower-dir links (``<dir>/l/N``) below ``holder`` name."""
    chains: set[str] = set()
    if not holder.is_dir():
        return chains
    for links in holder.glob("*/l"):
        for link in links.iterdir() if links.is_dir() else ():
            try:
                target = Path(os.readlink(link))
            except OSError:
                continue
            if target.name == "fs" and target.parent.parent.name == snapshot_root.name:
                chains.add("sha256:" + target.parent.name)  # by name: over-keeping is harmless
    return chains
