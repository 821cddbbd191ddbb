"""The members of an archive on disk, indexed once so that any of them can be read later.

``lamina load`` reads an archive as a stream and ingests it; a source must not store anything,
so it walks the archive's headers once with the strict tar reader (seeking over data), notes
where each member's bytes lie, and opens them as slices of the file when asked. Member paths
and links between members are read by the same rules as ``load`` (archive/load.py).
"""

from __future__ import annotations

import os
import re
from types import SimpleNamespace

from lamina.archive.load import _member_path, _resolve
from lamina.errors import ArchiveError, LayerError
from lamina.image.blobs import FileSlice
from lamina.layer.compression import detect_compression
from lamina.layer.tarread import BLOCK, TarReader

#: Members indexed at most: an archive of images has a few per layer; a million empty members
#: would only cost memory.
MAX_MEMBERS = 200_000


class ArchiveMembers:
    """Regular files and links of an uncompressed tar archive, by cleaned path."""

    def __init__(self, path: str, what: str):
        self.path = path
        self.what = what
        self.files: dict[str, tuple[int, int]] = {}  # archive path → (data offset, size)
        self._links = SimpleNamespace(links={})  # the shape archive.load's link resolver reads
        try:
            with open(path, "rb") as stream:
                compression = detect_compression(stream.read(6))
                if compression:
                    raise ArchiveError(f"{what} is {compression}-compressed: decompress it first")
                stream.seek(0)
                self._index(TarReader(stream, what))
        except FileNotFoundError:
            raise ArchiveError(f"{what}: no such file") from None
        except IsADirectoryError:
            raise ArchiveError(f"{what}: is a directory, not an archive") from None
        except OSError as exc:
            raise ArchiveError(f"{what}: {exc.strerror or exc}") from None
        except LayerError as exc:
            detail = str(exc).replace("layer tar", "the archive")
            position = re.search(r"at byte (\d+)", detail)
            if position and int(position.group(1)) < BLOCK:
                raise ArchiveError(f"{what} is not a tar archive ({detail})") from None
            raise ArchiveError(detail if detail.startswith(what) else f"{what}: {detail}") from None

    def _index(self, reader: TarReader) -> None:
        links = self._links.links
        count = 0
        for member in reader:
            count += 1
            if count > MAX_MEMBERS:
                raise ArchiveError(f"{self.what}: more than {MAX_MEMBERS} members; not an image archive")
            if member.type in (b"1", b"2"):
                name = _member_path(member.name, self.what)
                self.files.pop(name, None)
                base = "/" if member.type == b"1" else os.path.dirname("/" + name)
                links[name] = os.path.normpath(os.path.join(base, member.linkname))
            elif member.is_regular:
                name = _member_path(member.name, self.what)
                links.pop(name, None)
                self.files[name] = (member.offset + BLOCK, member.size)
        if not count:
            raise ArchiveError(f"{self.what} is empty: not a tar archive")

    def find(self, name: str) -> str | None:
        """The member a path names (links followed), or None."""
        resolved = _resolve(self._links, name, self.what)  # type: ignore[arg-type]
        return resolved if resolved in self.files else None

    def size(self, name: str) -> int:
        return self.files[self._require(name)][1]

    def open(self, name: str) -> FileSlice:
        offset, size = self.files[self._require(name)]
        return FileSlice(self.path, offset, size)

    def read(self, name: str, limit: int) -> bytes:
        """A small member's bytes (manifest, index, config); a larger one than ``limit`` is refused."""
        offset, size = self.files[self._require(name)]
        if size > limit:
            raise ArchiveError(f"{self.what}: {name} is {size} bytes, too large for an image manifest or config")
        with FileSlice(self.path, offset, size) as member:
            data = member.read(size)
        if len(data) != size:
            raise ArchiveError(f"{self.what}: {name} is truncated")
        return data

    def _require(self, name: str) -> str:
        found = self.find(name)
        if found is None:
            raise ArchiveError(f"{self.what}: {name} is named in the archive but missing")
        return found
