"""Contexts, as docker's: named hosts to run commands on, and which one is current.

Stored in lamina's config dir (``$LAMINA_CONFIG``, else ``$XDG_CONFIG_HOME/lamina``, else
``~/.config/lamina``): ``contexts/<name>.json`` for each context and ``config.json`` holding
``currentContext``. ``default`` is the built-in context: this machine's own store.

Which host a command runs on, as docker decides: ``-H`` > ``--context`` > ``LAMINA_HOST`` >
``LAMINA_CONTEXT`` > the current context (``-H`` with ``--context`` is refused). Only the standard library is used here: the console
entry point asks before every command, and ``lamina run`` must stay quick.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lamina.remote.configdir import config_dir

__all__ = ["Context", "DEFAULT", "config_dir", "select_host", "list_contexts", "get_context", "create_context",
           "remove_context", "use_context", "current_name"]

DEFAULT = "default"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$")  # docker's context name rule


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    host: str | None  # None: this machine
    description: str = ""


def select_host(host: str | None = None, context: str | None = None) -> str | None:
    """The ``ssh://`` host this command goes to, or None for this machine."""
    if host and context:
        from lamina.errors import UsageError

        raise UsageError("conflicting options: either specify --host or --context, not both")
    if host:
        return host
    if not context and os.environ.get("LAMINA_HOST"):
        return os.environ["LAMINA_HOST"]
    name = context or os.environ.get("LAMINA_CONTEXT") or None
    if name is None:
        config = config_dir() / "config.json"
        if not config.exists():  # the common case: one stat, nothing read
            return None
        name = current_name()
    return get_context(name).host


def current_name() -> str:
    try:
        document = json.loads((config_dir() / "config.json").read_text())
    except FileNotFoundError:
        return DEFAULT
    except (OSError, ValueError) as exc:
        from lamina.errors import UsageError

        raise UsageError(f"{config_dir() / 'config.json'}: unreadable lamina config ({exc})") from None
    name = document.get("currentContext") if isinstance(document, dict) else None
    return name if isinstance(name, str) and name else DEFAULT


def get_context(name: str) -> Context:
    if name == DEFAULT:
        return Context(DEFAULT, None, "Current lamina host (this machine's store)")
    _check_name(name)
    path = _context_file(name)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        from lamina.errors import UsageError

        raise UsageError(f"context {name!r} does not exist") from None
    except (OSError, ValueError) as exc:
        from lamina.errors import UsageError

        raise UsageError(f"{path}: unreadable context ({exc})") from None
    return Context(name, document.get("Host") or None, document.get("Description") or "")


def list_contexts() -> list[Context]:
    found = [get_context(DEFAULT)]
    directory = config_dir() / "contexts"
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            if _NAME.match(path.stem) and path.stem != DEFAULT:
                found.append(get_context(path.stem))
    return found


def create_context(name: str, host: str | None, description: str = "") -> Context:
    from lamina.errors import ConflictError

    _check_name(name)
    if name == DEFAULT or _context_file(name).exists():
        raise ConflictError(f"context {name!r} already exists")
    if host:
        from lamina.remote.transport import parse_host

        parse_host(host)  # refuse a malformed host now, not at its first use
    _write_json(_context_file(name), {"Name": name, "Description": description, "Host": host or ""})
    return Context(name, host or None, description)


def remove_context(name: str, *, force: bool = False) -> None:
    from lamina.errors import ConflictError, UsageError

    if name == DEFAULT:
        raise ConflictError("default: context \"default\" cannot be removed")
    get_context(name)  # exists?
    if current_name() == name:
        if not force:
            raise ConflictError(f"{name}: context is in use, set -f flag to force remove")
        use_context(DEFAULT)
    try:
        _context_file(name).unlink()
    except OSError as exc:
        raise UsageError(f"{_context_file(name)}: cannot remove context ({exc.strerror})") from None


def use_context(name: str) -> None:
    get_context(name)  # exists?
    path = config_dir() / "config.json"
    try:
        document = json.loads(path.read_text())
        if not isinstance(document, dict):
            document = {}
    except (OSError, ValueError):
        document = {}
    if name == DEFAULT:
        document.pop("currentContext", None)
    else:
        document["currentContext"] = name
    if document:
        _write_json(path, document)
    else:
        path.unlink(missing_ok=True)  # back to default: nothing left to read before each command


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        from lamina.errors import UsageError

        raise UsageError(f"context name {name!r} is invalid, names are validated against regexp "
                         f"\"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\"")


def _context_file(name: str) -> Path:
    return config_dir() / "contexts" / f"{name}.json"


def _write_json(path: Path, document: dict) -> None:
    """Write whole or not at all (a crash leaves the old file, never half a new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
