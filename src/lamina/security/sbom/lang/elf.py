"""Just enough ELF to find a section or a loaded address: what the Go and Rust catalogers need.

Why not a library: pyelftools would do, but these catalogers read two things (a named section, a
virtual address in a PT_LOAD segment) from files that may be hostile, and every offset must be
checked against the file's size before it is read. Reading is on an open file, never all of it.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAGIC = b"\x7fELF"
PT_LOAD = 1
SHT_SYMTAB = 2
#: A symbol table (and its strings) larger than this is not read: big Go binaries have ~10 MiB.
MAX_SYMBOL_TABLE = 64 << 20
PF_X, PF_W = 1, 2
#: More section or program headers than this is no real binary (real ones have < 100).
MAX_HEADERS = 4096


class ElfError(ValueError):
    """A file that starts like an ELF but whose headers are truncated or inconsistent."""


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    address: int
    offset: int
    size: int
    kind: int  # sh_type; SHT_NOBITS (8) has no bytes in the file
    link: int = 0  # sh_link: for a symbol table, the index of its string table


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    section_index: int
    value: int
    size: int


@dataclass(frozen=True, slots=True)
class Segment:
    kind: int
    flags: int
    offset: int
    address: int
    file_size: int


def is_elf(head: bytes) -> bool:
    return head[:4] == MAGIC


def file_contains(handle: BinaryIO, needle: bytes, *, chunk: int = 1 << 20) -> bool:
    """Whether ``needle`` occurs anywhere in the file: a byte search at C speed, so catalogers
    parse ELF headers only of the few executables that can hold what they look for (a Debian
    image has hundreds of ELF files and no Go binary)."""
    if isinstance(handle, io.BytesIO):
        return needle in handle.getvalue()  # a file the walker kept in memory: no copy to make
    handle.seek(0)
    tail = b""
    while True:
        block = handle.read(chunk)
        if not block:
            return False
        if needle in tail + block[:len(needle)] or needle in block:
            return True
        tail = block[-(len(needle) - 1):] if len(needle) > 1 else b""


class ElfFile:
    """The section and program headers of an ELF file, with bounded reads by offset or address."""

    def __init__(self, handle: BinaryIO, file_size: int):
        self.handle = handle
        self.file_size = file_size
        ident = self._read_at(0, 64)
        if len(ident) < 52 or ident[:4] != MAGIC:
            raise ElfError("truncated ELF header")
        elf_class, data = ident[4], ident[5]
        if elf_class not in (1, 2) or data not in (1, 2):
            raise ElfError("unknown ELF class or byte order")
        self.is_64 = elf_class == 2
        self.endian = "<" if data == 1 else ">"
        self.pointer_size = 8 if self.is_64 else 4
        if self.is_64:
            if len(ident) < 64:
                raise ElfError("truncated ELF header")
            (phoff, shoff) = struct.unpack_from(self.endian + "QQ", ident, 32)
            (phentsize, phnum, shentsize, shnum, shstrndx) = struct.unpack_from(self.endian + "HHHHH", ident, 54)
        else:
            (phoff, shoff) = struct.unpack_from(self.endian + "II", ident, 28)
            (phentsize, phnum, shentsize, shnum, shstrndx) = struct.unpack_from(self.endian + "HHHHH", ident, 42)
        self.segments = self._read_segments(phoff, phentsize, phnum)
        self.sections = self._read_sections(shoff, shentsize, shnum, shstrndx)

    def section(self, name: str) -> Section | None:
        return next((section for section in self.sections if section.name == name), None)

    def section_bytes(self, section: Section, limit: int) -> bytes:
        """The bytes of a section (at most ``limit``; ElfError if it claims more than the file holds)."""
        if section.kind == 8:
            return b""
        if section.offset + section.size > self.file_size:
            raise ElfError(f"section {section.name} runs past the end of the file")
        return self._read_at(section.offset, min(section.size, limit))

    def read_address(self, address: int, size: int) -> bytes:
        """Up to ``size`` bytes at a virtual address, from the PT_LOAD segment holding it."""
        for segment in self.segments:
            if segment.kind == PT_LOAD and segment.address <= address < segment.address + segment.file_size:
                if segment.offset + segment.file_size > self.file_size:
                    raise ElfError(f"a segment runs past the end of the file ({self.file_size} bytes): truncated")
                available = segment.address + segment.file_size - address
                return self._read_at(segment.offset + (address - segment.address), min(size, available))
        return b""

    def symbols(self) -> Iterator[Symbol]:
        """The entries of the static symbol table (``.symtab``; none in a stripped binary)."""
        table = next((section for section in self.sections if section.kind == SHT_SYMTAB), None)
        if table is None or table.size > MAX_SYMBOL_TABLE or not 0 <= table.link < len(self.sections):
            return
        entry_size = 24 if self.is_64 else 16
        data = self.section_bytes(table, MAX_SYMBOL_TABLE)
        strings = self.section_bytes(self.sections[table.link], MAX_SYMBOL_TABLE)
        for base in range(entry_size, len(data) - entry_size + 1, entry_size):  # entry 0 is the null symbol
            if self.is_64:
                name_offset, _, _, section_index, value, size = struct.unpack_from(self.endian + "IBBHQQ", data, base)
            else:
                name_offset, value, size, _, _, section_index = struct.unpack_from(self.endian + "IIIBBH", data, base)
            end = strings.find(b"\0", name_offset)
            if name_offset >= len(strings) or end < 0:
                continue
            yield Symbol(strings[name_offset:end].decode("latin-1"), section_index, value, size)

    def symbol_bytes(self, symbol: Symbol, limit: int) -> bytes:
        """The bytes a symbol covers in its section (at most ``limit``), b"" when out of range."""
        if not 0 < symbol.section_index < len(self.sections) or symbol.size > limit:
            return b""
        section = self.sections[symbol.section_index]
        start = symbol.value - section.address
        if section.kind == 8 or start < 0 or start + symbol.size > section.size:
            return b""
        return self._read_at(section.offset + start, symbol.size)

    def first_writable_data_address(self) -> int | None:
        """Where Go looks for build info when the binary has no ``.go.buildinfo`` section."""
        for segment in self.segments:
            if segment.kind == PT_LOAD and segment.flags & (PF_X | PF_W) == PF_W:
                return segment.address
        return None

    def _read_at(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0 or offset >= self.file_size:
            return b""
        self.handle.seek(offset)
        return self.handle.read(min(size, self.file_size - offset))

    def _read_segments(self, offset: int, entry_size: int, count: int) -> list[Segment]:
        if count == 0:
            return []
        wanted = 56 if self.is_64 else 32
        if count > MAX_HEADERS or entry_size < wanted:
            raise ElfError("implausible program header table")
        table = self._read_at(offset, entry_size * count)
        if len(table) < entry_size * count:
            raise ElfError("truncated program header table")
        segments = []
        for index in range(count):
            base = index * entry_size
            if self.is_64:
                kind, flags, seg_offset, address, _, file_size = struct.unpack_from(self.endian + "IIQQQQ", table, base)
            else:
                kind, seg_offset, address, _, file_size, _, flags = struct.unpack_from(self.endian + "IIIIIII", table, base)
            segments.append(Segment(kind, flags, seg_offset, address, file_size))
        return segments

    def _read_sections(self, offset: int, entry_size: int, count: int, names_index: int) -> list[Section]:
        if count == 0 or offset == 0:
            return []
        wanted = 64 if self.is_64 else 40
        if count > MAX_HEADERS or entry_size < wanted:
            raise ElfError("implausible section header table")
        table = self._read_at(offset, entry_size * count)
        if len(table) < entry_size * count:
            raise ElfError("truncated section header table")
        raw = []
        for index in range(count):
            base = index * entry_size
            if self.is_64:
                name, kind, _, address, sec_offset, size, link = struct.unpack_from(self.endian + "IIQQQQI", table, base)
            else:
                name, kind, _, address, sec_offset, size, link = struct.unpack_from(self.endian + "IIIIIII", table, base)
            raw.append((name, kind, address, sec_offset, size, link))
        names = b""
        if 0 <= names_index < count:
            _, kind, _, names_offset, names_size, _ = raw[names_index]
            names = self._read_at(names_offset, min(names_size, 1 << 20)) if kind != 8 else b""
        sections = []
        for name_offset, kind, address, sec_offset, size, link in raw:
            end = names.find(b"\0", name_offset)
            name = names[name_offset:end if end >= 0 else len(names)].decode("latin-1") if name_offset < len(names) else ""
            sections.append(Section(name, address, sec_offset, size, kind, link))
        return sections


class ExecutableFiles:
    """Remembers which wanted paths were executable when the walker offered them.

    Trivy reads Go and Rust build data only from files with an execute bit, but a FileView does
    not keep modes; ``wants`` sees each file's mode (a later layer's copy replaces the earlier
    answer), so the binary catalogers keep the set themselves and read only those files.
    """

    def __init__(self) -> None:
        self._executables: set[str] = set()

    def wants(self, path: str, mode: int, size: int) -> bool:
        if mode & 0o111 and size > 0:
            self._executables.add(path)
            return True
        self._executables.discard(path)
        return False

    def executables(self, files) -> list[str]:
        """The remembered executables still in the view (whiteouts removed the others), sorted."""
        return [path for path in files.paths() if path in self._executables]
