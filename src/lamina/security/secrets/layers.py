"""Scan every layer of an image for secrets: each layer's tar is read once, layers in parallel.

Files are judged before they are read: skipped names and allow-listed paths are passed over in
the tar stream, and a file whose first bytes are binary is dropped after those bytes (except
compiled Python, whose strings are scanned as Trivy does). Layers run in a bounded thread pool;
decompression and most of the regex work happen outside the interpreter lock.

Layers of the base image (up to the base's last CMD in the history) are not read by default, as
Trivy does not read them: their secrets are the base image's, not the author's.

Findings are kept per path across layers as Trivy keeps them: a secret a later layer deletes
still sits in the image's lower layer, so it is still reported; a later layer that writes the
same file with the same kind of secret replaces the earlier finding.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import msgspec

from lamina.errors import ArchiveError
from lamina.image.base import Image, Layer
from lamina.security.secrets.rules import is_allowed_path, is_skipped
from lamina.security.secrets.scanner import (
    Chunk,
    SecretFinding,
    file_chunks,
    looks_binary,
    merge_findings,
    printable_text,
    scan_bytes,
    scan_chunk,
)

_MIN_SIZE = 10  # Trivy does not open files smaller than this
_BINARY_ALLOWED = (".pyc",)


class SecretFile(msgspec.Struct, kw_only=True):
    """The findings in one file of the image, or in its config (Trivy's secret ``Result``)."""

    target: str  # "/app/.env" for a file; the image's name for its config
    findings: list[SecretFinding]


def scan_image_secrets(image: Image, *, workers: int | None = None, processes: int | None = None,
                       base_layers: bool = False, progress: Callable[[str], None] | None = None) -> list[SecretFile]:
    """Secrets in the layers' files and in the image config, files sorted by path, config last.

    ``workers``: threads reading layers (default: up to 4); ``processes``: worker processes that
    run the patterns (default 1: in this process, the fastest where reading the tars dominates).
    ``base_layers``: also read the layers the base image brought (Trivy leaves them out).
    """
    config_bytes = image.config_bytes()
    layers = image.layers()
    created_by = _layer_history(config_bytes, len(layers))
    first = 0 if base_layers else _base_layer_count(config_bytes, len(layers))
    chosen = list(enumerate(layers))[first:]
    pool_size = max(1, min(workers or min(4, os.cpu_count() or 1), len(chosen) or 1))
    if processes is None:
        processes = 1  # measured: reading the tars bounds the time once keywords are found by RE2
    with _Dispatcher(processes) as dispatcher, \
            ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="secret-scan") as pool:
        per_layer = list(pool.map(
            lambda pair: _scan_layer(pair[1], pair[0], created_by[pair[0]], dispatcher, progress), chosen))
    merged: dict[str, list[SecretFinding]] = {}
    for layer_findings in per_layer:
        for path, findings in layer_findings.items():
            earlier = merged.get(path, [])
            rules = {finding.rule_id for finding in findings}
            merged[path] = findings + [finding for finding in earlier if finding.rule_id not in rules]
    files = [SecretFile(target=path, findings=merged[path]) for path in sorted(merged)]
    config_findings = scan_config_secrets(config_bytes)
    if config_findings:
        files.append(SecretFile(target=image.name, findings=config_findings))
    return files


def scan_config_secrets(config_bytes: bytes) -> list[SecretFinding]:
    """Secrets in the image config (ENV, labels, history), lines counted as Trivy lays the config out."""
    try:
        config = json.loads(config_bytes)
    except ValueError as error:
        raise ArchiveError(f"image config is not JSON: {error}") from None
    if not isinstance(config, dict):
        raise ArchiveError("image config is not a JSON object")
    return scan_bytes("config.json", trivy_config_layout(config))


def trivy_config_layout(config: dict) -> bytes:
    """The config as Trivy re-encodes it before scanning, so line numbers agree with its reports.

    Trivy decodes into go-containerregistry's ``ConfigFile`` and writes it back with Go's
    ``MarshalIndent(prefix="  ", indent="")``: known fields in struct order, empty ones left out.
    """
    ordered = _ordered(config, _CONFIG_FIELDS, always=("architecture", "os", "rootfs", "config"))
    text = json.dumps(ordered, indent=0, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("\n", "\n  ").encode()


_HISTORY_FIELDS = ("author", "created", "created_by", "comment", "empty_layer")
_HEALTH_FIELDS = ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")
_RUN_CONFIG_FIELDS = ("AttachStderr", "AttachStdin", "AttachStdout", "Cmd", "Healthcheck", "Domainname",
                      "Entrypoint", "Env", "Hostname", "Image", "Labels", "OnBuild", "OpenStdin", "StdinOnce",
                      "Tty", "User", "Volumes", "WorkingDir", "ExposedPorts", "ArgsEscaped", "NetworkDisabled",
                      "MacAddress", "StopSignal", "Shell")
_CONFIG_FIELDS = ("architecture", "author", "container", "created", "docker_version", "history", "os", "rootfs",
                  "config", "os.version", "variant", "os.features")


def _ordered(value: dict, fields: tuple[str, ...], *, always: tuple[str, ...] = ()) -> dict:
    out: dict = {}
    for name in fields:
        item = value.get(name)
        if name == "history" and isinstance(item, list):
            item = [_ordered(entry, _HISTORY_FIELDS) for entry in item if isinstance(entry, dict)]
        elif name == "rootfs" and isinstance(item, dict):
            item = {"type": item.get("type", ""), "diff_ids": item.get("diff_ids") or None}
            item = {key: part for key, part in item.items() if part is not None}
        elif name == "config":
            item = _ordered(item if isinstance(item, dict) else {}, _RUN_CONFIG_FIELDS)
        elif name == "Healthcheck" and isinstance(item, dict):
            item = _ordered(item, _HEALTH_FIELDS)
        elif isinstance(item, dict):
            item = dict(sorted(item.items()))
        if name in always:
            out[name] = item if item is not None else ({} if name in ("rootfs", "config") else "")
        elif item not in (None, "", 0, False, [], {}):
            out[name] = item
    return out


def _base_layer_count(config_bytes: bytes, layer_count: int) -> int:
    """How many of the first layers the base image made (0 when the history does not say)."""
    from lamina.security.misconfig.history import base_image_index

    try:
        history = [entry for entry in json.loads(config_bytes).get("history") or [] if isinstance(entry, dict)]
    except (ValueError, AttributeError):
        return 0
    count = sum(1 for entry in history[: base_image_index(history) + 1] if not entry.get("empty_layer"))
    return count if count <= layer_count else 0


def _layer_history(config_bytes: bytes, layer_count: int) -> list[str]:
    """The ``created_by`` of each layer: history entries that made a layer, in order."""
    try:
        history = json.loads(config_bytes).get("history") or []
    except (ValueError, AttributeError):
        history = []
    made = [entry.get("created_by", "") for entry in history
            if isinstance(entry, dict) and not entry.get("empty_layer")]
    return (made + [""] * layer_count)[:layer_count] if len(made) != layer_count else made


def _scan_layer(layer: Layer, index: int, created_by: str, dispatcher: _Dispatcher,
                progress: Callable[[str], None] | None) -> dict[str, list[SecretFinding]]:
    batches = _Batches(dispatcher)
    try:
        with layer.open_uncompressed() as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                if not member.isreg() or member.size < _MIN_SIZE:
                    continue
                path = _relative(member.name)
                name = path.rsplit("/", 1)[-1]
                if name.startswith(".wh.") or is_skipped(path) or is_allowed_path(path):
                    continue
                reader = archive.extractfile(member)
                if reader is not None:
                    for chunk in _member_chunks(path, reader):
                        batches.add(chunk)
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        batches.abandon()
        raise ArchiveError(f"layer {index + 1} ({layer.diff_id}) cannot be read: {error}") from None
    except BaseException:
        batches.abandon()
        raise
    by_path: dict[str, list[SecretFinding]] = {}
    for path, findings in batches.results():
        by_path.setdefault(path, []).extend(findings)
    found = {path: [msgspec.structs.replace(finding, layer_diff_id=layer.diff_id, layer_digest=layer.digest,
                                            created_by=created_by) for finding in merge_findings(findings)]
             for path, findings in by_path.items() if findings}
    if progress is not None:
        progress(f"layer {index + 1}: {len(found)} file(s) with secrets")
    return found


_BATCH_BYTES = 1024 * 1024


class _Dispatcher:
    """Runs batches of windows in worker processes (or in this one), never too many in flight.

    Regex matching holds Python's interpreter lock, so threads alone would scan on one core; the
    workers are forked once per scan and get at most a few MiB of windows queued each.
    """

    def __init__(self, processes: int) -> None:
        self._pool = None
        if processes > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"))
            self._slots = threading.BoundedSemaphore(processes * 3)

    def __enter__(self) -> _Dispatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, batch: list[Chunk]):
        """A future (or, in-process, the finished list) of (path, findings) pairs."""
        if self._pool is None:
            return _scan_batch(batch)
        self._slots.acquire()
        future = self._pool.submit(_scan_batch, batch)
        future.add_done_callback(lambda _: self._slots.release())
        return future


def _scan_batch(batch: list[Chunk]) -> list[tuple[str, list[SecretFinding]]]:
    return [(chunk.path, scan_chunk(chunk)) for chunk in batch]


class _Batches:
    """Windows gathered into ~1 MiB batches for the dispatcher; results collected in order."""

    def __init__(self, dispatcher: _Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._batch: list[Chunk] = []
        self._size = 0
        self._pending: list = []

    def add(self, chunk: Chunk) -> None:
        self._batch.append(chunk)
        self._size += len(chunk.data)
        if self._size >= _BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self._pending.append(self._dispatcher.submit(self._batch))
            self._batch, self._size = [], 0

    def results(self) -> Iterator[tuple[str, list[SecretFinding]]]:
        self._flush()
        for pending in self._pending:
            yield from (pending if isinstance(pending, list) else pending.result())

    def abandon(self) -> None:
        for pending in self._pending:
            if not isinstance(pending, list):
                pending.cancel()


def _relative(name: str) -> str:
    """``./a/b``, ``/a/b`` and ``a/b`` all name ``a/b`` (Trivy's paths have no leading slash)."""
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _member_chunks(path: str, reader) -> Iterator[Chunk]:
    head = reader.read(CHUNK_HEAD)
    if looks_binary(head):
        if path.endswith(_BINARY_ALLOWED):
            yield from file_chunks("/" + path, _Printable(_Rejoined(head, reader)), binary=True)
        return
    yield from file_chunks("/" + path, _Rejoined(head, reader))


CHUNK_HEAD = 300


class _Printable:
    """The printable runs of a binary member, read block by block (memory stays flat for any size)."""

    _BLOCK = 1024 * 1024

    def __init__(self, raw) -> None:
        self._raw = raw
        self._pending = b""  # printable text ready to hand out
        self._tail = b""  # a run that may continue in the next block
        self._done = False

    def read(self, size: int) -> bytes:
        while len(self._pending) < size and not self._done:
            block = self._raw.read(self._BLOCK)
            if not block:
                self._done = True
                self._pending += printable_text(self._tail)
                break
            text = self._tail + block
            cut = len(text)
            while cut and _is_printable(text[cut - 1]):
                cut -= 1
            if len(text) - cut > self._BLOCK:  # a run longer than a block: cut it (memory stays bounded)
                cut = len(text)
            self._pending += printable_text(text[:cut])
            self._tail = text[cut:]
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


def _is_printable(byte: int) -> bool:
    return 0x20 <= byte <= 0x7E or 0xA1 <= byte <= 0xFF and byte != 0xAD


class _Rejoined(io.RawIOBase):
    """The head already read for the binary sniff, then the rest of the member."""

    def __init__(self, head: bytes, rest) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        if self._head:
            if size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += self._rest.read(size - len(data))
            return data
        return self._rest.read(size)
