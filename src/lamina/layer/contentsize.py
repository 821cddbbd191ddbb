"""A layer's size as docker reports it, learnt from its tar stream as the stream passes by.

docker's ``images``/``history``/``inspect .Size`` count a layer as the files of its unpacked
diff directory: regular files by their size (a hard-linked file once), symlinks by the length
of their target, directories, devices and whiteouts as nothing. A tar of the same layer is
larger (a 512-byte header per entry, data padded to 512 bytes), so lamina counts the same
thing docker counts, from the headers, without buffering file data.

``ContentSizer`` is fed the *uncompressed* tar in chunks of any size (as a hasher is), and
skips file data by arithmetic; only headers and the small PAX/GNU extension records are
looked at. A stream it cannot follow (not a tar) makes ``size`` None rather than an error:
whether the layer is valid is for the strict reader (``tarread``) to say.
"""

from __future__ import annotations

__all__ = ["ContentSizer", "SizingWriter"]

_BLOCK = 512
_EXTENSION_LIMIT = 1 << 20  # PAX / GNU long-name records larger than this are not believed


def _octal(field: bytes) -> int | None:
    if field and field[0] & 0x80:  # base-256 (GNU) for sizes of 8 GiB and more
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        return None


class ContentSizer:
    """Counts file and symlink bytes of a tar stream fed in arbitrary chunks."""

    __slots__ = ("_buffer", "_skip", "_collect", "_collect_kind", "_pax", "_long_link", "_total", "_broken",
                 "_ended", "_extension_size")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._skip = 0               # bytes of file data (and padding) still to pass over
        self._collect = 0            # bytes of an extension record still to gather into _buffer
        self._collect_kind = b""
        self._pax: dict[bytes, bytes] = {}
        self._long_link: bytes | None = None
        self._total = 0
        self._broken = False
        self._ended = False
        self._extension_size = 0

    @property
    def size(self) -> int | None:
        """The bytes docker would count, or None if the stream was not a tar we could follow."""
        return None if self._broken else self._total

    def feed(self, chunk: bytes | memoryview) -> None:
        if self._broken or self._ended:
            return
        view = memoryview(chunk)
        while view.nbytes:
            if self._skip:
                step = min(self._skip, view.nbytes)
                self._skip -= step
                view = view[step:]
                continue
            need = (self._collect if self._collect else _BLOCK) - len(self._buffer)
            take = min(need, view.nbytes)
            self._buffer += view[:take]
            view = view[take:]
            if take < need:
                return
            if self._collect:
                self._finish_extension()
            else:
                self._header(bytes(self._buffer))
            self._buffer.clear()
            if self._broken or self._ended:
                return

    def _header(self, block: bytes) -> None:
        if block == b"\0" * _BLOCK:
            self._ended = True  # end of archive (a second zero block and padding may follow)
            return
        size = _octal(block[124:136])
        if size is None:
            self._broken = True
            return
        if b"size" in self._pax:
            try:
                size = int(self._pax[b"size"])
            except ValueError:
                self._broken = True
                return
        kind = block[156:157]
        padded = (size + _BLOCK - 1) // _BLOCK * _BLOCK
        if kind in (b"x", b"g", b"L", b"K"):
            if size > _EXTENSION_LIMIT:
                self._broken = True
                return
            self._collect, self._collect_kind = padded, kind
            self._extension_size = size
            if padded == 0:
                self._collect = 0
            return
        if kind in (b"0", b"\0", b"7"):
            self._total += size
            self._skip = padded
        elif kind == b"2":
            target = self._pax.get(b"linkpath", self._long_link)
            if target is None:
                target = block[157:257].split(b"\0", 1)[0]
            self._total += len(target)
        elif kind not in (b"1", b"3", b"4", b"5", b"6"):
            self._skip = padded  # an unknown entry type: step over its data, count nothing
        self._pax, self._long_link = {}, None

    def _finish_extension(self) -> None:
        data = bytes(self._buffer[: self._extension_size])
        kind = self._collect_kind
        self._collect, self._collect_kind = 0, b""
        if kind == b"x":
            self._pax = _parse_pax(data)
        elif kind == b"K":
            self._long_link = data.split(b"\0", 1)[0]
        # 'g' (global) and 'L' (long name) do not change what is counted


def _parse_pax(data: bytes) -> dict[bytes, bytes]:
    records: dict[bytes, bytes] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position)
        if space < 0:
            break
        try:
            length = int(data[position:space])
        except ValueError:
            break
        if length <= 0:
            break
        record = data[space + 1 : position + length - 1]  # without the trailing newline
        key, _, value = record.partition(b"=")
        records[key] = value
        position += length
    return records


class SizingWriter:
    """A writer that passes every byte on to ``target`` and counts the tar's content on the way."""

    __slots__ = ("target", "sizer")

    def __init__(self, target):
        self.target = target
        self.sizer = ContentSizer()

    def write(self, data: bytes | bytearray | memoryview) -> object:
        self.sizer.feed(data)
        return self.target.write(data)

    def size_or(self, fallback: int) -> int:
        """The counted size, or ``fallback`` (the tar's size) when the stream could not be followed."""
        size = self.sizer.size
        return fallback if size is None else size
