"""An image's cosign attachments kept in the local store, served like a registry's.

``build --sbom --provenance`` attaches attestations before any registry is involved, and a
``load`` of an archive carrying ``.sig``/``.att`` manifests keeps them: both store the attachment
manifest and its blobs in the content store and record them against the image
(:meth:`lamina.store.store.Store.add_attachment`), so GC keeps them while the image lives.
:class:`StoreAttachments` answers the part of the registry protocol attachments.py uses, so the
same ``append_attachment``/``read_attachments``/``copy_attachments`` move them between the store,
registries and archives.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

from lamina.errors import SignatureError
from lamina.security.signing.attachments import MAX_ATTACHMENT_MANIFEST, OCI_MANIFEST

if TYPE_CHECKING:
    from lamina.store.store import Store


class _Info(NamedTuple):
    digest: str
    media_type: str
    size: int


class _Manifest(NamedTuple):
    data: bytes
    media_type: str
    digest: str


class StoreAttachments:
    """The attachments of one stored image, behind the registry calls attachments.py makes.

    ``repository`` arguments are ignored: an image's attachments are the image's, whatever name
    it has. Callers hold ``store.lease()`` while writing, so GC cannot sweep a blob between its
    ingest and the row that keeps it.
    """

    host = "local store"

    def __init__(self, store: Store, image_id: str) -> None:
        self.store = store
        self.image_id = image_id

    def tags(self) -> dict[str, str]:
        """Attachment tag (``sha256-<hex>.sig``) -> manifest digest."""
        return self.store.attachments_of(self.image_id)

    def head_manifest(self, repository: str, reference: str, accept: Any = None) -> _Info | None:
        digest = self.tags().get(reference)
        if digest is None or not self.store.content.has(digest):
            return None
        return _Info(digest, OCI_MANIFEST, self.store.content.size(digest))

    def get_manifest(self, repository: str, reference: str, accept: Any = None) -> _Manifest:
        info = self.head_manifest(repository, reference)
        if info is None:
            raise SignatureError(f"local store: image {self.image_id[:19]} has no attachment {reference}")
        return _Manifest(self.store.content.read(info.digest), OCI_MANIFEST, info.digest)

    def fetch_blob(self, repository: str, digest: str, sink: Any, *, expected_size: int | None = None) -> int:
        if not self.store.content.has(digest):
            raise SignatureError(f"local store: attachment blob {digest} is missing (run 'lamina fsck')")
        data = self.store.content.read(digest)
        if expected_size is not None and len(data) != expected_size:
            raise SignatureError(f"local store: attachment blob {digest} is {len(data)} bytes, not {expected_size}")
        sink.write(data)
        return len(data)

    def upload_blob(self, repository: str, digest: str, size: int, open_reader: Any) -> None:
        if self.store.content.has(digest):
            return
        with open_reader() as reader:
            self.store.content.ingest(reader, digest, size)

    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str) -> str:
        """Keep ``data`` as the image's attachment manifest under ``reference``, with every blob it names."""
        if len(data) > MAX_ATTACHMENT_MANIFEST:
            raise SignatureError(f"local store: attachment manifest {reference} is too big")
        try:
            document = json.loads(data)
            descriptors = [document["config"], *document["layers"]]
            blobs = [(str(d["digest"]), str(d.get("mediaType", ""))) for d in descriptors]
        except (ValueError, KeyError, TypeError):
            raise SignatureError(f"local store: attachment manifest {reference} is not an image manifest") from None
        for digest, _ in blobs:
            if not self.store.content.has(digest):
                raise SignatureError(f"local store: attachment {reference} names blob {digest}, which is not stored")
        digest = self.store.content.ingest_bytes(data)
        self.store.add_attachment(self.image_id, reference, digest, blobs)
        return digest

