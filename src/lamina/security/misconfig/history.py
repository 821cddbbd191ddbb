"""The Dockerfile an image's history implies, line by line, as Trivy rebuilds it for its checks.

An image keeps the instructions that made it in its config's ``history`` (``created_by``). The
checks read that as a Dockerfile: RUN lines from ``/bin/sh -c …``, instructions the legacy
builder recorded as ``#(nop)``, BuildKit's ``… # buildkit`` entries, USER, HEALTHCHECK, ENV and
ARG; everything else stays an empty line so that line numbers match Trivy's. Layers of the base
image (up to its last ``CMD``) are left out: they are not the image author's instructions. The
config's own ``User`` closes the file, since ``docker commit`` and ``--user`` can set it too.
"""

from __future__ import annotations

import json
import re
import shlex

import msgspec


class Instruction(msgspec.Struct, frozen=True, kw_only=True):
    """One instruction of the implied Dockerfile."""

    line: int  # 1-based line in the implied Dockerfile
    command: str  # upper case: RUN, ADD, COPY, USER, ENV, ARG, HEALTHCHECK, ENTRYPOINT, …
    text: str  # the whole line as rebuilt
    values: tuple[str, ...]  # RUN: (shell command,) or exec-form words; ADD/COPY: sources and dest; ENV: names/values


def implied_dockerfile(config: dict) -> tuple[list[str], list[Instruction]]:
    """The rebuilt Dockerfile's lines and its parsed instructions."""
    history = [entry for entry in config.get("history") or [] if isinstance(entry, dict)]
    run_config = config.get("config") if isinstance(config.get("config"), dict) else {}
    lines = [_line(entry.get("created_by") or "", run_config) for entry in history[base_image_index(history) + 1:]]
    user = run_config.get("User") or ""
    if user:
        lines.append(f"USER {user}")
    instructions = [parsed for number, text in enumerate(lines, 1) if (parsed := _parse(number, text))]
    return lines, instructions


def base_image_index(history: list[dict]) -> int:
    """Index of the base image's CMD (its last instruction), or -1 when none is recognisable."""
    seen_layer = False
    for index in range(len(history) - 1, -1, -1):
        entry = history[index]
        empty = bool(entry.get("empty_layer"))
        if not seen_layer:
            if empty:
                continue
            seen_layer = True
        if not empty:
            continue
        created_by = entry.get("created_by") or ""
        if created_by.startswith(("/bin/sh -c #(nop)  CMD", "CMD")):
            return index
    return -1


_BUILD_METADATA = re.compile(r"\|[a-zA-Z0-9_-]+=[^ \t]+")
_COPY_IN = re.compile(r"\b((?:file|dir):\S+) in ")


def _line(created_by: str, run_config: dict) -> str:
    text = ""
    if created_by.startswith("/bin/sh -c #(nop)"):
        text = created_by.removeprefix("/bin/sh -c #(nop)")
        if text.startswith((" COPY", " ADD")):
            text = _COPY_IN.sub(r"\1 ", text)
    elif created_by.startswith("/bin/sh -c"):
        text = _as_run(created_by)
    elif created_by.endswith("# buildkit"):
        text = _as_run(created_by.removesuffix("# buildkit"))
    elif created_by.startswith("USER"):
        text = created_by
    elif created_by.startswith("HEALTHCHECK"):
        text = _healthcheck(run_config.get("Healthcheck"))
    elif created_by.startswith("ENV"):
        name, equals, value = created_by.partition("=")
        text = f"{name}={json.dumps(value, ensure_ascii=False)}" if equals else created_by
    elif created_by.startswith(("ARG", "ENTRYPOINT")):
        text = created_by
    return _BUILD_METADATA.sub("", text).strip()


def _as_run(text: str) -> str:
    _, found, after = text.partition("/bin/sh -c")
    return "RUN" + after if found else text


def _healthcheck(health: object) -> str:
    if not isinstance(health, dict):
        return "HEALTHCHECK NONE"
    options = ""
    for key, flag in (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start-period")):
        if health.get(key):
            options += f"--{flag}={_duration(int(health[key]))} "
    if health.get("Retries"):
        options += f"--retries={health['Retries']} "
    command = " ".join(health.get("Test") or []).replace("CMD-SHELL", "CMD")
    return f"HEALTHCHECK {options}{command}"


def _duration(nanoseconds: int) -> str:
    seconds, rest = divmod(nanoseconds, 1_000_000_000)
    return f"{seconds}s" if not rest else f"{nanoseconds / 1e9:g}s"


def _parse(number: int, text: str) -> Instruction | None:
    word, _, rest = text.partition(" ")
    if not word:
        return None
    command, rest = word.upper(), rest.strip()
    if command == "RUN":
        while rest.startswith("--"):  # RUN --mount=… flags
            _, _, rest = rest.partition(" ")
            rest = rest.strip()
        values = _exec_form(rest) or (rest,)
    elif command in ("ADD", "COPY"):
        values = tuple(word for word in rest.split() if not word.startswith("--"))
    elif command == "ENV":
        values = _env_values(rest)
    elif command == "ARG":
        values = tuple(rest.split())
    else:
        values = (rest,) if rest else ()
    return Instruction(line=number, command=command, text=text, values=values)


def _exec_form(rest: str) -> tuple[str, ...]:
    if not rest.startswith("["):
        return ()
    try:
        words = json.loads(rest)
    except ValueError:
        return ()
    return tuple(str(word) for word in words) if isinstance(words, list) else ()


def _env_values(rest: str) -> tuple[str, ...]:
    """``(name, value, "=")`` triplets, the shape Trivy's Dockerfile parser gives ENV."""
    try:
        words = shlex.split(rest)
    except ValueError:
        words = rest.split()
    values: list[str] = []
    if words and "=" not in words[0]:
        return (words[0], " ".join(words[1:]), "")
    for word in words:
        name, _, value = word.partition("=")
        values.extend((name, value, "="))
    return tuple(values)
