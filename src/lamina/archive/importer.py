"""``lamina import``: a rootfs tarball (plain, gzip, bzip2, xz, zstd) becomes a one-layer image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from lamina.archive.tarstream import CHUNK
from lamina.layer.compression import open_decompressed
from lamina.layer.membernames import write_clean_names
from lamina.layer.tarread import TarReader
from lamina.layer.validate import LayerScan, check_layer_tar
from lamina.oci import mediatypes as mt
from lamina.oci.models import encode
from lamina.oci.platform import host_platform
from lamina.oci.timefmt import format_rfc3339
from lamina.store.store import LayerRecord, Store


def import_rootfs(store: Store, stream: BinaryIO, *, source_name: str, config: dict | None = None,
                  message: str = "", platform: tuple[str, str, str] | None = None,
                  tags: Sequence = ()) -> str:
    """Store the (decompressed) tar as one layer and write an image config around it.

    The tar is kept byte for byte (its diffID is then docker's), unless a member name is
    absolute or has a ``..``: then the layer is written again with clean names
    (layer/membernames), so no layer lamina makes holds a name that leaves its root.
    """
    reader, _ = open_decompressed(stream, what=source_name)
    with store.lease():
        created: list[str] = []  # blobs this import put in the store, to remove on failure
        writer = store.content.writer()
        with writer:
            while chunk := reader.read(CHUNK):
                writer.write(chunk)
            # (zero bytes are an empty layer, as docker imports them: Go's reader sees no member)
            diff_id, size = writer.commit(f"{source_name}")
        if writer.created:
            created.append(diff_id)
        try:
            with store.content.open(diff_id) as layer:
                scan = check_layer_tar(layer, source_name)
            if scan.unclean_names:
                diff_id, size, scan = _store_with_clean_names(store, diff_id, source_name, created)
            os_name, architecture, variant = platform or (host_platform().os, host_platform().architecture,
                                                          host_platform().variant)
            created_at = format_rfc3339()
            document: dict = {
                "architecture": architecture,
                "config": config or {},
                "created": created_at,
                "history": [{"created": created_at, "comment": f"Imported from {source_name}"}],
                "os": os_name,
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            }
            if variant:
                document["variant"] = variant
            if message:
                document["comment"] = message
                document["history"][0]["comment"] = message
            layer_record = LayerRecord(diff_id, diff_id, mt.DOCKER_LAYER, size, scan.content_size)
            image_id = store.add_image(encode(document), mt.DOCKER_CONFIG, [layer_record], tags=tags)
        except BaseException:
            for digest in created:
                store.content.delete(digest)
            raise
        if created and created[0] != diff_id:  # the input as it came, replaced by the clean layer
            store.content.delete(created[0])
        return image_id


def _store_with_clean_names(store: Store, original: str, source_name: str,
                            created: list[str]) -> tuple[str, int, LayerScan]:
    """Write the stored tar ``original`` again with clean member names; (diffID, size, scan)."""
    writer = store.content.writer()
    with writer:
        with store.content.open(original) as layer:
            write_clean_names(TarReader(layer, source_name), writer.write)
        diff_id, size = writer.commit(source_name)
    if writer.created:
        created.append(diff_id)
    with store.content.open(diff_id) as layer:
        scan = check_layer_tar(layer, source_name)
    return diff_id, size, scan
