"""Blob downloads: streamed, hashed as they arrive, resumed with ``Range`` after a drop.

A download runs against each mirror and then the registry; its state (bytes received, the
running hash) carries across resumed requests and endpoints, so a blob is never hashed twice
nor accepted unless its bytes hash to the digest asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from lamina.errors import DigestMismatchError, RegistryError
from lamina.oci.digest import Hasher, validate_digest
from lamina.registry.auth import repository_scope

if TYPE_CHECKING:
    import httpx

    from lamina.registry.transport import EndpointState, RegistryTransport

#: ``progress(bytes_done, bytes_total_or_None)``, called as bytes move.
Progress = Callable[[int, int | None], None]
#: Bytes re-read at a time when a resumed download hashes what the sink already holds.
REHASH_SLICE = 1024 * 1024


class Dropped(Exception):
    """A transfer stopped part way (connection lost, short body); worth resuming."""


def blob_size(transport: RegistryTransport, state: EndpointState, repository: str, digest: str, *,
              push: bool) -> int | None:
    """The size of a blob ``state``'s endpoint holds in ``repository`` (HEAD), or None."""
    actions = ("pull", "push") if push else ("pull",)
    response = transport.follow(state, "HEAD", f"/v2/{repository}/blobs/{digest}",
                                [repository_scope(repository, *actions)])
    response.close()
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise transport.error(state, response, transport.display(repository, digest))
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else 0


class BlobDownload:
    """The running state of one blob download, kept across resumed requests and mirrors."""

    def __init__(self, digest: str, sink: BinaryIO, expected_size: int | None, progress: Progress | None) -> None:
        self.digest = digest
        self.hasher = Hasher.for_digest(digest)
        self.sink = sink
        self.expected_size = expected_size
        self.progress = progress
        self.received = 0

    def adopt_prefix(self, offset: int) -> None:
        """Hash the first ``offset`` bytes already in the sink, then continue after them."""
        self.sink.seek(0)
        remaining = offset
        while remaining:
            piece = self.sink.read(min(remaining, REHASH_SLICE))
            if not piece:
                raise ValueError(f"the sink holds fewer than the {offset} bytes to resume after")
            self.hasher.update(piece)
            remaining -= len(piece)
        self.sink.seek(offset)
        self.received = offset

    def write(self, piece: bytes, where: str) -> None:
        if self.expected_size is not None and self.received + len(piece) > self.expected_size:
            raise DigestMismatchError(f"blob {where} is larger than its announced size {self.expected_size}")
        self.hasher.update(piece)
        self.sink.write(piece)
        self.received += len(piece)
        if self.progress:
            self.progress(self.received, self.expected_size)

    def complete(self) -> bool:
        return self.expected_size is None or self.received >= self.expected_size

    def digest_matches(self) -> bool:
        """Whether the bytes so far are the whole blob (told apart from a body cut short)."""
        return self.hasher.digest == self.digest

    def finish(self, where: str) -> int:
        actual = self.hasher.digest
        if actual != self.digest:
            raise DigestMismatchError(
                f"blob {where} does not match its digest: got {actual} ({self.received} bytes)"
            )
        return self.received


def fetch_blob(
    transport: RegistryTransport,
    repository: str,
    digest: str,
    sink: BinaryIO,
    *,
    expected_size: int | None = None,
    offset: int = 0,
    progress: Progress | None = None,
) -> int:
    """Stream a blob into ``sink`` from the first endpoint that has it, verified; returns its size.

    See :meth:`lamina.registry.client.RegistryClient.fetch_blob`.
    """
    validate_digest(digest)
    download = BlobDownload(digest, sink, expected_size, progress)
    if offset:
        download.adopt_prefix(offset)
    last_error: RegistryError | None = None
    for state in transport.endpoints:
        if state.unreachable:
            continue
        try:
            _download(transport, state, repository, download)
            return download.finish(transport.display(repository, digest))
        except DigestMismatchError:
            raise
        except RegistryError as exc:
            last_error = exc
            if state is transport.registry:
                raise
    assert last_error is not None
    raise last_error


def _download(transport: RegistryTransport, state: EndpointState, repository: str, download: BlobDownload) -> None:
    import httpx

    path = f"/v2/{repository}/blobs/{download.digest}"
    scopes = [repository_scope(repository, "pull")]
    where = transport.display(repository, download.digest)
    retry = transport.retry
    for attempt in range(1, retry.attempts + 1):
        headers = {"Accept-Encoding": "identity"}
        if download.received:
            headers["Range"] = f"bytes={download.received}-"
        try:
            response = transport.follow(state, "GET", path, scopes, headers=headers, stream=True)
            try:
                if response.status_code == 416 and download.received and download.complete():
                    return
                if response.status_code not in (200, 206):
                    raise transport.error(state, response, where, pulling=repository)
                skip = download.received if response.status_code == 200 else _range_gap(response, download.received)
                for piece in response.iter_raw():
                    if skip:
                        if len(piece) <= skip:
                            skip -= len(piece)
                            continue
                        piece, skip = piece[skip:], 0
                    download.write(piece, where)
            finally:
                response.close()
            if not download.complete():
                if download.digest_matches():  # all of the blob came: its announced size lies
                    raise DigestMismatchError(
                        f"blob {where} is {download.received} bytes, but its descriptor says "
                        f"{download.expected_size}")
                raise Dropped("short body")
            return
        except (httpx.TransportError, Dropped):
            if attempt == retry.attempts:
                raise RegistryError(
                    f"download of {where} from {state.endpoint.host} failed after {attempt} attempts "
                    f"({download.received} bytes received)"
                ) from None
            retry.wait(attempt)


def _range_gap(response: httpx.Response, received: int) -> int:
    """For a 206, how many bytes to drop before ``received`` is reached (0 when the range fits)."""
    content_range = response.headers.get("Content-Range", "")
    match = re.match(r"bytes (\d+)-", content_range)
    if not match:
        return 0
    start = int(match.group(1))
    if start > received:
        raise RegistryError(f"registry resumed at byte {start}, after the {received} bytes we have")
    return received - start
