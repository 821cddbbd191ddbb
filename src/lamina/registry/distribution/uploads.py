"""Blob uploads in docker's wire flow: HEAD, cross-repository mount or POST, PATCH, PUT ``?digest=``.

The bytes go as one streamed PATCH, or in chunks when asked (or when the registry names an
``OCI-Chunk-Min-Length``). A dropped upload asks the registry how much it kept (``Range``)
and resumes there, or starts over; ``open_reader`` is called afresh for each attempt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import IO, TYPE_CHECKING
from urllib.parse import urljoin

from lamina.errors import AuthError, DigestMismatchError, RegistryError
from lamina.oci.digest import validate_digest
from lamina.registry.auth import repository_scope
from lamina.registry.distribution.blobs import Dropped, Progress, blob_size
from lamina.registry.transport.retry import RETRY_STATUSES

if TYPE_CHECKING:
    import httpx

    from lamina.registry.transport import EndpointState, RegistryTransport

#: Upload bodies are generators of slices this big (measured fastest with httpx, libs.md §5).
UPLOAD_SLICE = 1024 * 1024
#: Chunk size when chunked upload is wanted but the registry names no minimum.
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024


class BlobPushOutcome(StrEnum):
    """How a blob reached the registry; the CLI prints docker's words for each."""

    EXISTS = "exists"  # "Layer already exists"
    MOUNTED = "mounted"  # "Mounted from <repo>"
    UPLOADED = "uploaded"  # "Pushed"


class UploadSession:
    """An upload the registry has opened: where to send the next request."""

    def __init__(self, location: str, min_chunk: int | None) -> None:
        self.location = location
        self.min_chunk = min_chunk

    def advance(self, response: httpx.Response) -> None:
        # Every answer may move the upload to a new URL (distribution encodes its state in it).
        location = response.headers.get("Location")
        if location:
            self.location = urljoin(str(response.url), location)


def upload_blob(
    transport: RegistryTransport,
    repository: str,
    digest: str,
    size: int,
    open_reader: Callable[[], IO[bytes]],
    *,
    mount_from: str | None = None,
    progress: Progress | None = None,
    chunk_size: int | None = None,
) -> BlobPushOutcome:
    """Make the registry hold a blob in ``repository``, the cheapest way it allows.

    See :meth:`lamina.registry.client.RegistryClient.upload_blob`.
    """
    validate_digest(digest)
    state = transport.registry
    scopes = [repository_scope(repository, "pull", "push")]
    if blob_size(transport, state, repository, digest, push=True) is not None:
        if progress:
            progress(size, size)
        return BlobPushOutcome.EXISTS
    session: UploadSession | None = None
    if mount_from and mount_from != repository:
        mount_scopes = scopes + [repository_scope(mount_from, "pull")]
        response = transport.request(
            state, "POST", f"/v2/{repository}/blobs/uploads/",
            scopes=mount_scopes, params={"mount": digest, "from": mount_from},
        )
        response.close()
        if response.status_code == 201:
            if progress:
                progress(size, size)
            return BlobPushOutcome.MOUNTED
        if response.status_code != 202:
            raise transport.error(state, response, transport.display(repository, digest))
        session = _session_from(transport, response, repository)
    _Upload(transport, state, repository, digest, size, open_reader, progress).run(session, chunk_size)
    return BlobPushOutcome.UPLOADED


def _session_from(transport: RegistryTransport, response: httpx.Response, repository: str) -> UploadSession:
    location = response.headers.get("Location")
    if not location:
        raise RegistryError(f"{transport.host} started an upload to {repository} without a Location")
    minimum = response.headers.get("OCI-Chunk-Min-Length", "")
    return UploadSession(
        location=urljoin(str(response.url), location),
        min_chunk=int(minimum) if minimum.isdigit() else None,
    )


class _Upload:
    """One blob's upload: the requests after the registry agreed to take it."""

    def __init__(
        self,
        transport: RegistryTransport,
        state: EndpointState,
        repository: str,
        digest: str,
        size: int,
        open_reader: Callable[[], IO[bytes]],
        progress: Progress | None,
    ) -> None:
        self.transport = transport
        self.state = state
        self.repository = repository
        self.digest = digest
        self.size = size
        self.open_reader = open_reader
        self.progress = progress
        self.scopes = [repository_scope(repository, "pull", "push")]
        self.where = transport.display(repository, digest)

    def run(self, session: UploadSession | None, chunk_size: int | None) -> None:
        retry = self.transport.retry
        offset = 0
        for attempt in range(1, retry.attempts + 1):
            if session is None:
                session = self._start()
                offset = 0
            chunk = chunk_size
            if session.min_chunk:
                chunk = max(chunk or DEFAULT_CHUNK_SIZE, session.min_chunk)
            try:
                offset = self._send(session, offset, chunk)
                self._complete(session)
                return
            except Dropped:
                if attempt == retry.attempts:
                    raise RegistryError(
                        f"upload of {self.where} to {self.transport.host} failed after {attempt} attempts"
                    ) from None
                retry.wait(attempt)
                session, offset = self._status(session)

    def _start(self) -> UploadSession:
        response = self.transport.request(
            self.state, "POST", f"/v2/{self.repository}/blobs/uploads/", scopes=self.scopes
        )
        response.close()
        if response.status_code != 202:
            raise self.transport.error(self.state, response, self.transport.display(self.repository))
        return _session_from(self.transport, response, self.repository)

    def _send(self, session: UploadSession, offset: int, chunk: int | None) -> int:
        """PATCH the bytes from ``offset`` on, as one stream or in chunks; returns the new offset."""
        size = self.size
        while offset < size:
            end = size if chunk is None else min(size, offset + chunk)
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(end - offset)}
            if chunk is not None or offset:
                headers["Content-Range"] = f"{offset}-{end - 1}"
            start = offset

            def body(start: int = start, end: int = end) -> Iterator[bytes]:
                return _read_slices(self.open_reader, start, end, size, self.progress)

            try:
                response = self.transport.request(
                    self.state, "PATCH", session.location, scopes=self.scopes, headers=headers, body=body,
                    retry=False,
                )
            except AuthError:
                raise
            except RegistryError as exc:
                raise Dropped(str(exc)) from None
            response.close()
            if response.status_code in RETRY_STATUSES:
                raise Dropped(f"HTTP {response.status_code}")
            if response.status_code != 202:
                raise self.transport.error(self.state, response, f"upload to {session.location}")
            session.advance(response)
            offset = end
        return offset

    def _complete(self, session: UploadSession) -> None:
        import httpx

        url = str(httpx.URL(session.location).copy_merge_params({"digest": self.digest}))
        try:
            response = self.transport.request(
                self.state, "PUT", url, scopes=self.scopes, headers={"Content-Length": "0"}, body=b"", retry=False
            )
        except AuthError:
            raise
        except RegistryError as exc:
            raise Dropped(str(exc)) from None
        response.close()
        if response.status_code in (201, 204):
            return
        if response.status_code in RETRY_STATUSES:
            raise Dropped(f"HTTP {response.status_code}")
        error = self.transport.error(self.state, response, self.where)
        if "DIGEST_INVALID" in error.codes or "SIZE_INVALID" in error.codes:
            raise DigestMismatchError(
                f"blob {self.where} was rejected by {self.transport.host}: its content does not match the digest"
            )
        raise error

    def _status(self, session: UploadSession) -> tuple[UploadSession | None, int]:
        """After a drop, ask the registry how much it kept; None means start a new upload."""
        try:
            response = self.transport.request(self.state, "GET", session.location, scopes=self.scopes)
        except RegistryError:
            return None, 0
        response.close()
        if response.status_code != 204:
            return None, 0
        offset = _range_end(response.headers.get("Range", ""))
        if offset is None:
            return None, 0
        session.advance(response)
        return session, offset


def _read_slices(
    open_reader: Callable[[], IO[bytes]], start: int, end: int, size: int, progress: Progress | None
) -> Iterator[bytes]:
    """Bytes ``start..end`` of a blob in 1 MiB slices, opened afresh for each attempt."""
    with open_reader() as reader:
        if start:
            if reader.seekable():
                reader.seek(start)
            else:
                skip = start
                while skip:
                    dropped = reader.read(min(skip, UPLOAD_SLICE))
                    if not dropped:
                        break
                    skip -= len(dropped)
        position = start
        while position < end:
            piece = reader.read(min(UPLOAD_SLICE, end - position))
            if not piece:
                raise DigestMismatchError(f"blob source ended at byte {position}, before its size {size}")
            position += len(piece)
            yield piece
            if progress:
                progress(position, size)


def _range_end(value: str) -> int | None:
    """distribution's upload ``Range: 0-<last byte>`` → bytes held (``0-0`` read as none)."""
    match = re.fullmatch(r"(?:bytes=)?0-(\d+)", value.strip())
    if not match:
        return None
    last = int(match.group(1))
    return last + 1 if last > 0 else 0
