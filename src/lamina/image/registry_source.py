"""``docker://REF`` (or a plain name the store lacks): an image in a registry, read lazily.

Opening fetches the manifest (following an index to the wanted platform) and the config;
nothing else. A layer is downloaded only when one of its readers is opened, streamed (not
spooled) and checked against its digest by the registry client as it arrives. Nothing is
written to the local store. Credentials, mirrors and TLS settings are the registry client's
(``~/.docker/config.json`` and lamina's registry config), as for ``lamina pull``.
"""

from __future__ import annotations

import io
import os
import threading
from typing import BinaryIO

from lamina.errors import LaminaError, ManifestError
from lamina.image.blobs import BlobLayer
from lamina.image.platforms import choose_manifest, wanted_platform
from lamina.image.source import DOCUMENT_MAX, SourceImage, layers_from_manifest
from lamina.oci import mediatypes as mt
from lamina.oci.models import Descriptor, parse_index, parse_manifest, sniff_media_type
from lamina.oci.reference import Reference, parse_reference

MAX_NESTING = 4


def open_registry_image(reference: str, spec: str, *, platform: str | None = None, client=None) -> SourceImage:
    """Open ``reference`` in its registry; ``client`` (a RegistryClient for its host) is made if None."""
    ref = parse_reference(reference)
    own = client is None
    if own:
        from lamina.registry.client import RegistryClient

        client = RegistryClient(ref.domain)
    try:
        return RegistryImage(client, ref, spec, platform, own_client=own)
    except BaseException:
        if own:
            client.close()
        raise


class RegistryImage(SourceImage):
    """One image of a registry repository; ``reference`` is where it was found."""

    def __init__(self, client, ref: Reference, spec: str, platform: str | None, *, own_client: bool):
        self.reference = ref
        self._client = client
        self._own_client = own_client
        manifest = client.get_manifest(ref.path, ref.digest or ref.tag or "latest")
        data, media_type = manifest.data, manifest.media_type
        wanted = wanted_platform(platform)
        for _ in range(MAX_NESTING):
            if media_type not in mt.ALL_MANIFESTS:
                media_type = sniff_media_type(data)
            if media_type not in mt.INDEXES:
                break
            index = parse_index(data, where=f"{spec}: index {manifest.digest}")
            choice = choose_manifest(index.manifests, wanted, f"{spec}: index {manifest.digest}")
            manifest = client.get_manifest(ref.path, choice.digest)
            data, media_type = manifest.data, manifest.media_type
        else:
            raise ManifestError(f"{spec}: indexes nested more than {MAX_NESTING} deep")
        if media_type not in mt.IMAGE_MANIFESTS:
            raise ManifestError(f"{spec}: manifest {manifest.digest} has media type {media_type}, which is not an image")
        config = parse_manifest(data, where=f"{spec}: manifest {manifest.digest}").config
        config_bytes = self._fetch_config(config, spec)

        def opener_for(layer: Descriptor):
            return lambda: RemoteBlobReader(client, ref.path, layer.digest, layer.size)

        layers: list[BlobLayer] = layers_from_manifest(spec, data, config_bytes, opener_for)
        super().__init__(spec, data, media_type, config_bytes, layers)

    def _fetch_config(self, config: Descriptor, spec: str) -> bytes:
        if config.size > DOCUMENT_MAX:
            raise ManifestError(f"{spec}: config {config.digest} is {config.size} bytes, too large for an image config")
        buffer = io.BytesIO()
        self._client.fetch_blob(self.reference.path, config.digest, buffer, expected_size=config.size)
        return buffer.getvalue()

    def close(self) -> None:
        if self._own_client and not self._closed:
            self._client.close()
        super().close()


class RemoteBlobReader(io.RawIOBase):
    """A registry blob as a file to read: the download runs on a thread, writing into a pipe.

    The registry client verifies size and digest as the bytes pass (resuming dropped
    connections); its error, if any, is raised here when the pipe runs dry, so a reader never
    takes a wrong blob for a complete one.
    """

    def __init__(self, client, repository: str, digest: str, size: int):
        read_end, write_end = os.pipe()
        self._pipe: BinaryIO = os.fdopen(read_end, "rb", buffering=0)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._fetch, args=(client, repository, digest, size, write_end),
                                        name=f"fetch {digest[:19]}", daemon=True)
        self._thread.start()

    def _fetch(self, client, repository: str, digest: str, size: int, write_end: int) -> None:
        try:
            with os.fdopen(write_end, "wb") as sink:
                client.fetch_blob(repository, digest, sink, expected_size=size)
        except BrokenPipeError:
            pass  # the reader closed early: nothing more is wanted
        except BaseException as exc:  # handed to the reading thread
            self._error = exc

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 20
        chunk = self._pipe.read(size)
        if not chunk and size:
            self._thread.join()
            if self._error is not None:
                error, self._error = self._error, None
                if isinstance(error, LaminaError):
                    raise error
                raise LaminaError(f"download failed: {error}") from error
        return chunk

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._pipe.close()  # a fetch still writing gets EPIPE and ends
            self._thread.join(timeout=30)
        super().close()
