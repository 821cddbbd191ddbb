"""What ``build`` is given, turned into files: the context directory, the Dockerfile, secrets.

The context is a directory, an ``http(s)://`` URL (downloaded, then read as stdin is) or ``-``:
stdin holding either a tar archive (plain or compressed, then it is the context) or a bare
Dockerfile (a context holding just that file, named ``Dockerfile``), as ``docker build -`` reads
it. ``-f -`` reads the Dockerfile from stdin with a directory context.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import msgspec

from lamina.errors import BuildError, UsageError
from lamina.layer.apply import apply_layer
from lamina.layer.compression import PeekableReader, detect_compression, open_decompressed

NETWORK_MODES = ("default", "none", "host")


class PreparedContext(msgspec.Struct, frozen=True):
    directory: Path
    dockerfile: Path | None        # None: <directory>/Dockerfile
    dockerfile_text: bytes | None  # the Dockerfile itself, when it came from stdin


@contextlib.contextmanager
def prepare_context(
    context: str | os.PathLike[str] | BinaryIO, dockerfile: str | None = None, *, scratch: Path | None = None
) -> Iterator[PreparedContext]:
    """Yield the context as a directory (temporary when it came as a stream, made in ``scratch``
    when given) and the Dockerfile.

    An ``http(s)://`` context is downloaded first and then read as stdin is, as docker's
    client does with a URL that is not a git repository."""
    stdin_context = context == "-" or not isinstance(context, str | os.PathLike)
    if dockerfile == "-" and stdin_context:
        raise UsageError("invalid argument: can't use stdin for both build context and dockerfile")
    dockerfile_text = sys.stdin.buffer.read() if dockerfile == "-" else None
    if isinstance(context, str) and context.startswith(("http://", "https://")):
        with _downloaded(context) as stream, _stream_context(stream, dockerfile, scratch) as prepared:
            yield prepared
        return
    if not stdin_context:
        directory = Path(os.fspath(context))  # type: ignore[arg-type]
        if not directory.is_dir():
            raise BuildError(f"unable to prepare context: path {str(directory)!r} not found")
        yield PreparedContext(directory, _dockerfile_path(dockerfile, directory), dockerfile_text)
        return
    with _stream_context(sys.stdin.buffer if context == "-" else context, dockerfile, scratch) as prepared:  # type: ignore[arg-type]
        yield prepared


@contextlib.contextmanager
def _stream_context(stream: BinaryIO, dockerfile: str | None, scratch: Path | None) -> Iterator[PreparedContext]:
    """A context that comes as a tar (plain or compressed), or as a bare Dockerfile."""
    with tempfile.TemporaryDirectory(prefix="context-" if scratch else "lamina-context-", dir=scratch) as temp:
        directory = Path(temp)
        peekable = PeekableReader(stream)
        head = peekable.peek(512)
        if detect_compression(head) or _looks_like_tar(head):
            reader, _ = open_decompressed(peekable)  # type: ignore[arg-type]
            apply_layer(reader, directory, same_owner=False)
            _ARCHIVE_CONTEXTS.add(directory)
            try:
                yield PreparedContext(directory, _dockerfile_path(dockerfile, directory, relative_to_context=True), None)
            finally:
                _ARCHIVE_CONTEXTS.discard(directory)
        else:  # docker's client makes a context of that one file, so `COPY . /x` copies it
            (directory / "Dockerfile").write_bytes(peekable.read())
            yield PreparedContext(directory, None, None)


@contextlib.contextmanager
def _downloaded(url: str) -> Iterator[BinaryIO]:
    """The body of ``url`` in a temporary file."""
    import httpx

    with tempfile.TemporaryFile(prefix="lamina-context-") as spool:
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
                if response.status_code >= 400:
                    raise BuildError(f"unable to prepare context: unable to download remote context {url}: failed "
                                     f"to GET {url} with status {response.status_code} {response.reason_phrase}")
                for chunk in response.iter_bytes(1 << 20):
                    spool.write(chunk)
        except httpx.HTTPError as exc:
            raise BuildError(f"unable to prepare context: unable to download remote context {url}: {exc}") from None
        spool.seek(0)
        yield spool  # type: ignore[misc]


_ARCHIVE_CONTEXTS: set[Path] = set()


def came_as_archive(directory: Path) -> bool:
    """Whether ``directory`` is a context unpacked from a tar on stdin. docker's client filters
    a directory context by .dockerignore but passes a tar through as it is; the daemon then
    drops only the Dockerfile and .dockerignore themselves when the patterns name them."""
    return Path(directory) in _ARCHIVE_CONTEXTS


def _dockerfile_path(dockerfile: str | None, context: Path, *, relative_to_context: bool = False) -> Path | None:
    if dockerfile is None or dockerfile == "-":
        return None
    path = Path(dockerfile)
    if relative_to_context and not path.is_absolute():
        return context / path
    return path


def _looks_like_tar(block: bytes) -> bool:
    from lamina.build.copy import is_tar_header

    return len(block) >= 512 and any(block) and is_tar_header(block[:512])


def parse_build_args(values: Sequence[str]) -> dict[str, str | None]:
    """``K=V`` → V; a bare ``K`` takes the value of ``$K`` (or none when unset), as docker does."""
    args: dict[str, str | None] = {}
    for value in values:
        key, has_value, text = value.partition("=")
        args[key] = text if has_value else os.environ.get(key)
    return args


def parse_labels(values: Sequence[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        key, _, text = value.partition("=")
        labels[key] = text
    return labels


def parse_secrets(values: Sequence[str], directory: Path) -> dict[str, Path]:
    """``id=ID,src=FILE`` (or ``source=``, ``env=VAR``, ``type=file|env``) → id → file on disk.

    An ``env`` secret is written to a private file under ``directory`` so RUN mounts it like a file.
    """
    secrets: dict[str, Path] = {}
    for spec in values:
        fields = dict(part.partition("=")[::2] for part in spec.split(",") if part)
        secret_id = fields.get("id")
        if not secret_id:
            raise UsageError(f"invalid secret {spec!r}: id is required")
        source = fields.get("src") or fields.get("source")
        env = fields.get("env")
        if source is None and env is None:
            if fields.get("type") == "env":
                env = secret_id
            else:
                source = secret_id if fields.get("type") == "file" else None
                env = secret_id if source is None else None
        if source is not None:
            path = Path(source).expanduser()
            if not path.is_file():
                raise UsageError(f"failed to stat secret {secret_id}: {source}: no such file")
            secrets[secret_id] = path.resolve()
            continue
        value = os.environ.get(env or "")
        if value is None:
            raise UsageError(f"secret {secret_id}: environment variable {env} is not set")
        path = directory / f"secret-{len(secrets)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(value)
        secrets[secret_id] = path
    return secrets


def check_network(network: str) -> str:
    mode = "default" if network in ("", "bridge") else network
    if mode not in NETWORK_MODES:
        raise UsageError(f'network mode "{network}" not supported by lamina build (use default, none or host)')
    return mode
