"""``lamina import``: a rootfs tarball (plain, gzip, bzip2, xz, zstd) becomes a one-layer image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from lamina.archive.tarstream import CHUNK
from lamina.errors import ArchiveError
from lamina.layer.compression import open_decompressed
from lamina.layer.validate import check_layer_tar
from lamina.oci import mediatypes as mt
from lamina.oci.models import encode
from lamina.oci.platform import host_platform
from lamina.oci.timefmt import format_rfc3339
from lamina.store.store import LayerRecord, Store


def import_rootfs(store: Store, stream: BinaryIO, *, source_name: str, config: dict | None = None,
                  message: str = "", platform: tuple[str, str, str] | None = None,
                  tags: Sequence = ()) -> str:
    """Store the (decompressed) tar as one layer and write an image config around it."""
    reader, kind = open_decompressed(stream, what=source_name)
    with store.lease():
        writer = store.content.writer()
        with writer:
            while chunk := reader.read(CHUNK):
                writer.write(chunk)
            if writer.hasher.size == 0:
                detail = f"the {kind} stream holds no data" if kind else "the file is empty"
                raise ArchiveError(f"{source_name}: {detail}, not a tar archive")
            diff_id, size = writer.commit(f"{source_name}")
        try:
            with store.content.open(diff_id) as layer:
                content_size = check_layer_tar(layer, source_name).content_size
            os_name, architecture, variant = platform or (host_platform().os, host_platform().architecture,
                                                          host_platform().variant)
            created = format_rfc3339()
            document: dict = {
                "architecture": architecture,
                "config": config or {},
                "created": created,
                "history": [{"created": created, "comment": f"Imported from {source_name}"}],
                "os": os_name,
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            }
            if variant:
                document["variant"] = variant
            if message:
                document["comment"] = message
                document["history"][0]["comment"] = message
            layer_record = LayerRecord(diff_id, diff_id, mt.DOCKER_LAYER, size, content_size)
            return store.add_image(encode(document), mt.DOCKER_CONFIG, [layer_record], tags=tags)
        except BaseException:
            if writer.created:
                store.content.delete(diff_id)
            raise


def parse_changes(changes: Sequence[str]) -> dict:
    """Apply ``--change`` Dockerfile instructions (CMD, ENV, …) to an empty container config."""
    from lamina.archive.changes import apply_changes

    return apply_changes({}, changes)
