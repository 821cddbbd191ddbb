"""Docker's output conventions: human sizes and durations, tabwriter tables, ``--format``."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

from lamina.cli.gotemplate import render
from lamina.runtime.status import human_duration  # go-units HumanDuration, shared with the engine API

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def human_size(size: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision: decimal units, ``%.3g`` (``1.24MB``, ``0B``)."""
    index = 0
    while size >= 1000 and index < len(_UNITS) - 1:
        size /= 1000.0
        index += 1
    return f"{_go_g(size, precision)}{_UNITS[index]}"


def bytes_size(size: float) -> str:
    """go-units BytesSize (binary units, ``%.4g``) used by a few docker messages."""
    index = 0
    while size >= 1024 and index < len(_BINARY_UNITS) - 1:
        size /= 1024.0
        index += 1
    return f"{_go_g(size, 4)}{_BINARY_UNITS[index]}"


def _go_g(value: float, precision: int) -> str:
    text = f"{value:.{precision}g}"
    if "e+" in text:  # Go writes e+03 where Python writes e+03 too; keep as is
        return text
    return text


def since(timestamp: float) -> str:
    if not timestamp:
        return "N/A"
    return human_duration(max(0.0, time.time() - timestamp)) + " ago"


def go_time(timestamp: float) -> str:
    """Go's time.Time String() in the local zone, as docker prints CreatedAt: ``2024-01-02 15:04:05 +0000 UTC``."""
    if not timestamp:
        return "0001-01-01 00:00:00 +0000 UTC"
    from datetime import datetime

    return datetime.fromtimestamp(int(timestamp)).astimezone().strftime("%Y-%m-%d %H:%M:%S %z %Z")


def rfc3339_seconds(timestamp: float) -> str:
    """Go's ``time.RFC3339`` in the local zone (``2024-01-02T15:04:05Z``): docker's history times.

    The engine API gives history times as whole Unix seconds, so docker's client never shows a
    fraction there; a UTC offset is written ``Z`` as Go writes it."""
    from datetime import datetime

    moment = datetime.fromtimestamp(int(timestamp)).astimezone()
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if moment.utcoffset().total_seconds() == 0 else text


def tabulate(rows: Sequence[Sequence[str]], *, minwidth: int = 10, padding: int = 3) -> str:
    """Go's tabwriter as docker configures it (minwidth 10, padding 3; last column unpadded)."""
    if not rows:
        return ""
    columns = max(len(r) for r in rows)
    widths = [0] * columns
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell) + padding, minwidth)
    lines = []
    for row in rows:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        parts.append(row[-1])
        lines.append("".join(parts))  # an empty last cell leaves the padding, as Go's tabwriter does
    return "\n".join(lines) + "\n"


def print_formatted(items: Sequence[Any], template: str, headers: dict[str, str]) -> None:
    """``--format``: ``table …`` adds a header row and aligns; ``json`` = one JSON object per line."""
    out = sys.stdout
    if template == "json":
        template = "{{json .}}"
    if template.startswith("table"):
        body = template[len("table"):].lstrip() or None
        if body is None:
            return
        body = body.replace("\\t", "\t")
        rows = [render(body, _Titles(headers)).split("\t")]
        rows += [render(body, item).split("\t") for item in items]
        out.write(tabulate(rows))
        return
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    for item in items:
        out.write(render(template, item) + "\n")


class _Titles:
    """The header row as docker makes it: the same template run on the columns' titles
    (``{{.Label "k"}}`` is titled ``k``; functions apply to titles too)."""

    def __init__(self, titles: dict[str, str]):
        self._titles = titles

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._titles.get(name, name.upper())

    def Label(self, name: str) -> str:  # noqa: N802 - docker's template method name
        return name


class TemplateRow:
    """A row of named string fields for ``--format`` templates (``{{.Name}}``, ``{{json .}}``)."""

    def __init__(self, **fields: str):
        self.__dict__.update(fields)

    def template_fields(self) -> dict:
        return dict(sorted(self.__dict__.items()))


def inspect_documents(lookup, names: Sequence[str], template: str | None) -> bool:
    """``inspect``: a JSON array (4-space indent, like docker) or one rendered template per document.

    ``lookup(name)`` returns a document or raises LaminaError; errors are printed as they come
    and the rest still print. Returns False when any name failed (the caller exits 1).
    """
    import json

    from lamina.errors import LaminaError

    documents, ok = [], True
    for name in names:
        try:
            documents.append(lookup(name))
        except LaminaError as exc:
            ok = False
            sys.stderr.write(f"lamina: error: {exc}\n")
    if template == "json":  # docker: the array on one line
        sys.stdout.write(json.dumps(documents, separators=(",", ":"), ensure_ascii=False) + "\n")
    elif template:
        template = template.replace("\\n", "\n").replace("\\t", "\t")
        for document in documents:
            sys.stdout.write(render(template, document) + "\n")
    else:
        sys.stdout.write(json.dumps(documents, indent=4, ensure_ascii=False) + "\n")
    return ok


def confirm_or_abort(warning: str) -> bool:
    """docker's prune prompt: the warning and ``[y/N]`` on stdout, then one line read from stdin.

    As docker's CLI does, the answer is read whether or not stdin is a terminal, so
    ``echo y | lamina image prune`` prunes; only ``y`` or ``Y`` says yes, and end of input says no.
    """
    if sys.stdin is None:  # no fd 0 at all: nobody can say yes
        return False
    sys.stdout.write(warning + "\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline(64)
    return answer.strip() in ("y", "Y")


def write_archive(output: str | None, write) -> None:
    """Send an archive to ``-o FILE`` (made whole or not at all: temp file, then rename) or to
    stdout, which must not be a terminal (docker's "cowardly refusing")."""
    import os
    import tempfile

    from lamina.errors import UsageError

    if not output:
        if sys.stdout.isatty():
            raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        sys.stdout.flush()
        write(sys.stdout.buffer)
        return
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(output)), prefix=".lamina-")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        os.chmod(temp, 0o644)
        os.replace(temp, output)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
