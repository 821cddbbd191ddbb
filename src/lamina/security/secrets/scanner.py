"""Find secrets in one file's bytes, and say where they are without repeating them.

The file is read in 64 KiB chunks that overlap by 4 KiB (Trivy's sizes, so a report names the
same lines and a secret on a chunk border is found once); memory stays flat however big the file.
A finding carries the matched line with every matched credential replaced by ``*`` of the same
length, and the two lines around it, equally masked: a report never holds a secret in full.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import msgspec

from lamina.security.secrets.rules import RULES, SecretRule, is_allowed_match

CHUNK_SIZE = 64 * 1024
OVERLAP = 4096
_CONTEXT_LINES = 2
_MAX_LINE = 100
# Trivy's binary test (after file(1)): a control byte other than \a \b \t \n \f \r ESC in the head.
_BINARY_BYTE = re.compile(rb"[\x00-\x06\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_HEAD_SIZE = 300
_PRINTABLE_RUN = re.compile(rb"[\x20-\x7e\xa1-\xac\xae-\xff]{5,}")
_ALL_KEYWORDS = tuple(sorted({word for rule in RULES for word in rule.keywords}))


class CodeLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a finding's context (Trivy's ``Code.Lines[]``), already masked."""

    number: int
    content: str
    is_cause: bool
    first_cause: bool = False
    last_cause: bool = False


class SecretFinding(msgspec.Struct, frozen=True, kw_only=True):
    """One secret in one file (Trivy's ``Secrets[]`` entry)."""

    rule_id: str
    category: str
    severity: str
    title: str
    start_line: int
    end_line: int
    match: str  # the line, secret masked
    offset: int  # byte offset of the secret in the file
    code: tuple[CodeLine, ...] = ()
    layer_diff_id: str = ""
    layer_digest: str = ""
    created_by: str = ""


def present_keywords(lowered: bytes) -> set[bytes]:
    """The rules' keywords that occur in ``lowered`` (content already in lower case).

    With google-re2 installed, one pass of an RE2 set finds them all (about 40x faster than one
    substring search per keyword, which is the fallback); both give the same set.
    """
    global _keyword_search
    if _keyword_search is None:
        _keyword_search = _re2_keyword_search() or _python_keyword_search
    return _keyword_search(lowered)


def _python_keyword_search(lowered: bytes) -> set[bytes]:
    return {word for word in _ALL_KEYWORDS if word in lowered}


def _re2_keyword_search() -> Callable[[bytes], set[bytes]] | None:
    try:
        import re2
    except ImportError:
        return None
    keyword_set = re2.Set.SearchSet(re2.Options())
    for word in _ALL_KEYWORDS:
        keyword_set.Add(re.escape(word))
    keyword_set.Compile()

    def search(lowered: bytes) -> set[bytes]:
        return {_ALL_KEYWORDS[index] for index in keyword_set.Match(lowered) or ()}

    return search


_keyword_search: Callable[[bytes], set[bytes]] | None = None


def looks_binary(head: bytes) -> bool:
    """Trivy's content sniff over the first 300 bytes of a file."""
    return _BINARY_BYTE.search(head[:_HEAD_SIZE]) is not None


def printable_text(content: bytes) -> bytes:
    """The printable runs (5+ bytes) of a binary file, one per line, as ``strings`` would give."""
    return b"".join(run + b"\n" for run in _PRINTABLE_RUN.findall(content))


class Chunk(msgspec.Struct, frozen=True):
    """One window of a file, with where it starts: the unit of scanning work (picklable)."""

    path: str
    data: bytes
    line_offset: int
    byte_offset: int
    binary: bool = False


def file_chunks(path: str, stream: BinaryIO, *, binary: bool = False) -> Iterator[Chunk]:
    """A file cut as Trivy cuts it: 64 KiB windows, each after the first repeating 4 KiB of the last."""
    carry = b""
    line_offset = byte_offset = 0
    while True:
        wanted = CHUNK_SIZE - len(carry)
        fresh = stream.read(wanted)
        if not fresh:
            return
        chunk = carry + fresh
        yield Chunk(path, chunk, line_offset, byte_offset, binary)
        if len(fresh) < wanted:
            return
        done = chunk[:-OVERLAP]
        line_offset += done.count(b"\n")
        byte_offset += len(done)
        carry = chunk[-OVERLAP:]


def scan_chunk(chunk: Chunk) -> list[SecretFinding]:
    """The findings of one window, with lines and offsets counted from the file's start."""
    findings = scan_bytes(chunk.path, chunk.data, binary=chunk.binary)
    if chunk.line_offset or chunk.byte_offset:
        findings = [_shifted(finding, chunk.line_offset, chunk.byte_offset) for finding in findings]
    return findings


def scan_chunks(chunks: Iterable[Chunk]) -> list[SecretFinding]:
    """Scan a batch of windows in one go (a worker process's task)."""
    return [finding for chunk in chunks for finding in scan_chunk(chunk)]


def merge_findings(findings: Iterable[SecretFinding]) -> list[SecretFinding]:
    """One file's findings from all its windows: each once (windows overlap), in Trivy's order."""
    unique: dict[tuple[str, int, int, int], SecretFinding] = {}
    for finding in findings:
        unique.setdefault((finding.rule_id, finding.start_line, finding.end_line, finding.offset), finding)
    return sorted(unique.values(), key=lambda finding: (finding.rule_id, finding.match))


def scan_stream(path: str, stream: BinaryIO, *, binary: bool = False) -> list[SecretFinding]:
    """Scan a file read from ``stream`` window by window; ``path`` is the image path with a leading ``/``."""
    return merge_findings(finding for chunk in file_chunks(path, stream, binary=binary)
                          for finding in scan_chunk(chunk))


def mask_secrets(text: str) -> str:
    """``text`` with every credential a rule recognises replaced by ``*`` (for metadata in reports)."""
    content = text.encode()
    present = present_keywords(content.lower())
    if not present:
        return text
    masked = bytearray(content)
    for rule in RULES:
        if present.isdisjoint(rule.keywords):
            continue
        for start, end in _locations(rule, content):
            masked[start:end] = b"*" * (end - start)
    return masked.decode("utf-8", "replace")


def _shifted(finding: SecretFinding, lines: int, offset: int) -> SecretFinding:
    return msgspec.structs.replace(
        finding, start_line=finding.start_line + lines, end_line=finding.end_line + lines,
        offset=finding.offset + offset,
        code=tuple(msgspec.structs.replace(line, number=line.number + lines) for line in finding.code))


def scan_bytes(path: str, content: bytes, *, binary: bool = False) -> list[SecretFinding]:
    """Every finding in ``content`` (at most one chunk), lines counted from 1 within it."""
    lowered = content.lower()
    present = present_keywords(lowered)
    if not present:
        return []
    matched: list[tuple[SecretRule, int, int]] = []
    for rule in RULES:
        if present.isdisjoint(rule.keywords) or not all(word in lowered for word in rule.required):
            continue
        if rule.gate is not None and not rule.gate.search(content):
            continue
        matched.extend((rule, start, end) for start, end in _locations(rule, content))
    if not matched:
        return []
    masked = bytearray(content)
    for _, start, end in matched:
        for index in range(start, end):
            if masked[index] != 0x0A:
                masked[index] = 0x2A
    findings = [_finding(rule, start, end, bytes(masked)) for rule, start, end in matched]
    if binary:
        findings = [msgspec.structs.replace(finding, code=(),
                                            match=f'Binary file "{path}" matches a rule "{finding.title}"')
                    for finding in findings]
    findings.sort(key=lambda finding: (finding.rule_id, finding.match))
    return findings


def _locations(rule: SecretRule, content: bytes) -> Iterable[tuple[int, int]]:
    for start, end, secret_start, secret_end in rule.pattern.spans(content):
        whole = content[start:end]
        if is_allowed_match(whole) or any(allow.search(whole) for allow in rule.allow_matches):
            continue
        if not rule.reports_group:
            yield start, end
        elif secret_start >= 0:
            yield secret_start, secret_end


def _finding(rule: SecretRule, start: int, end: int, masked: bytes) -> SecretFinding:
    start_line = masked.count(b"\n", 0, start)
    line_start = masked.rfind(b"\n", 0, start) + 1
    line_end = masked.find(b"\n", start)
    if line_end == -1:
        line_end = len(masked)
    if line_end - line_start > _MAX_LINE:
        if start - line_start - 30 >= 0:
            line_start = start - 30
        if end + 20 <= line_end:
            line_end = end + 20
    match_line = _text(masked[line_start:line_end])
    end_line = start_line + masked.count(b"\n", start, end)
    lines = masked.split(b"\n")
    first = max(start_line - _CONTEXT_LINES, 0)
    last = min(end_line + _CONTEXT_LINES, len(lines))
    code: list[CodeLine] = []
    for number in range(first, last):
        cause = start_line <= number <= end_line
        raw = lines[number]
        content = (match_line if cause else _text(raw[:_MAX_LINE])) if len(raw) > _MAX_LINE else _text(raw)
        code.append(CodeLine(number=number + 1, content=content, is_cause=cause,
                             first_cause=cause and number == start_line, last_cause=cause and number == end_line))
    return SecretFinding(rule_id=rule.id, category=rule.category, severity=rule.severity, title=rule.title,
                         start_line=start_line + 1, end_line=end_line + 1, match=match_line, offset=start,
                         code=tuple(code))


def _text(raw: bytes) -> str:
    return raw.replace(b"\r", b"").decode("utf-8", "replace")
