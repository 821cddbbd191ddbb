"""Attachments travelling with an image between the local store and registries.

``push`` sends the ``.sig``/``.att``/``.sbom`` manifests the store keeps for the manifest it just
pushed (``build --sbom --provenance`` made them, or ``load`` kept them): the same bytes, so the
signatures over the manifest digest stay valid in the registry.
"""

from __future__ import annotations

from lamina.oci.reference import Reference
from lamina.security.signing.attachments import ATTACHMENT_SUFFIXES, attachment_tag, copy_attachments
from lamina.security.signing.cosign import registry_for
from lamina.security.signing.localstore import StoreAttachments


def push_attachments(root: str | None, reference: Reference, manifest_digest: str) -> list[str]:
    """Copy the stored attachments of ``manifest_digest`` to ``reference``'s repository; returns the tags sent."""
    from lamina.errors import ImageNotFoundError
    from lamina.store.store import Store

    store = Store(root)
    try:
        try:
            image_id = store.resolve(str(reference))
        except ImageNotFoundError:
            return []
        local = StoreAttachments(store, image_id)
        kept = local.tags()
        if not any(attachment_tag(manifest_digest, suffix) in kept for suffix in ATTACHMENT_SUFFIXES):
            return []
        with registry_for(reference, None) as client:
            return copy_attachments(local, "", client, reference.path, manifest_digest)
    finally:
        store.close()


def keep_attachments(root: str | None, reference: Reference, manifest_digest: str) -> list[str]:
    """After ``sign``/``attest`` in a registry: when the store holds that image with that very manifest
    (pushed or pulled from there), keep a copy of its attachments, so ``save`` carries them; returns the tags."""
    import json

    from lamina.errors import ImageNotFoundError
    from lamina.store.store import Store

    store = Store(root)
    try:
        try:
            image_id = store.resolve(str(reference))
        except ImageNotFoundError:
            return []
        if not store.content.has(manifest_digest):
            return []
        try:
            if json.loads(store.content.read(manifest_digest))["config"]["digest"] != image_id:
                return []
        except (ValueError, KeyError, TypeError):
            return []
        with store.lease(), registry_for(reference, None) as client:
            return copy_attachments(client, reference.path, StoreAttachments(store, image_id), "", manifest_digest)
    finally:
        store.close()
