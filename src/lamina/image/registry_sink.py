"""An image into a registry: its blobs as they are stored, then its manifest's exact bytes.

The registry client's upload does the work ``lamina push`` relies on (HEAD first, a
cross-repository mount when the source is another repository of the same registry, a
streamed upload with resume); the registry checks every blob's digest.
"""

from __future__ import annotations

import io

from lamina.image.base import Image
from lamina.oci.reference import parse_reference


def write_to_registry(image: Image, reference: str, *, events=None, client=None) -> str:
    """Push ``image`` as ``reference``; returns the manifest digest the registry holds."""
    from lamina.registry.client import BlobPushOutcome, RegistryClient
    from lamina.registry.config import canonical_host
    from lamina.registry.transfer_events import TransferEvent, ignore, short

    events = events or ignore
    ref = parse_reference(reference)
    source = getattr(image, "reference", None)  # a registry source: blobs may be mounted
    mount_from = source.path if source is not None and canonical_host(source.domain) == canonical_host(ref.domain) \
        else None
    words = {BlobPushOutcome.EXISTS: "Layer already exists", BlobPushOutcome.UPLOADED: "Pushed",
             BlobPushOutcome.MOUNTED: f"Mounted from {mount_from}"}
    own = client is None
    client = client or RegistryClient(ref.domain)
    try:
        for layer in image.layers():
            outcome = client.upload_blob(ref.path, layer.digest, layer.size, layer.open_compressed,
                                         mount_from=mount_from)
            events(TransferEvent(short(layer.digest), words[outcome]))
        config = image.config_bytes()
        client.upload_blob(ref.path, image.config_digest(), len(config), lambda: io.BytesIO(config),
                           mount_from=mount_from)
        return client.put_manifest(ref.path, ref.tag or image.manifest_digest(), image.manifest_bytes(),
                                   image.manifest_media_type())
    finally:
        if own:
            client.close()
