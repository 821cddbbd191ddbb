"""The subset of Go's text/template that docker's ``--format`` flags use.

Supported: ``{{.Field}}``, ``{{.A.B}}``, ``{{.}}``, ``{{json .X}}``, ``{{index .X "k"}}``,
``{{join .X ","}}``, ``{{upper}}``, ``{{lower}}``, ``{{title}}``, ``{{len}}``, ``{{println}}``,
``{{range .X}}…{{end}}``, ``{{if .X}}…{{else}}…{{end}}``, and ``table`` prefixes handled by
the caller. Values print the way Go prints them (``[a b]``, ``map[k:v]``, ``<nil>``).
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from lamina.errors import UsageError

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


def render(template: str, data: Any) -> str:
    nodes = _parse(template)
    return "".join(_execute(nodes, data))


def _parse(template: str) -> list:
    """Nodes: str | ('expr', text) | ('range'|'if', text, body, else_body)."""
    root: list = []
    stack: list[tuple[list, tuple | None]] = [(root, None)]
    position = 0
    for match in _ACTION.finditer(template):
        text = template[position : match.start()]
        if match.group(0).startswith("{{-"):
            text = text.rstrip()
        if text:
            stack[-1][0].append(text)
        position = match.end()
        action = match.group(1)
        word = action.split(None, 1)[0] if action else ""
        if word in ("range", "if", "with"):
            node = [word, action[len(word):].strip(), [], []]
            stack[-1][0].append(node)
            stack.append((node[2], node))
        elif word == "else":
            if stack[-1][1] is None:
                raise UsageError("template: unexpected {{else}}")
            node = stack.pop()[1]
            stack.append((node[3], node))
        elif word == "end":
            if stack[-1][1] is None:
                raise UsageError("template: unexpected {{end}}")
            stack.pop()
        else:
            stack[-1][0].append(("expr", action))
    if len(stack) != 1:
        raise UsageError("template: unexpected EOF (missing {{end}})")
    tail = template[position:]
    if tail:
        root.append(tail)
    return root


def _execute(nodes: list, dot: Any):
    for node in nodes:
        if isinstance(node, str):
            yield node
        elif isinstance(node, tuple):
            yield format_value(_evaluate(node[1], dot))
        else:
            kind, expression, body, else_body = node
            value = _evaluate(expression, dot)
            if kind == "range":
                items = list(value.values()) if isinstance(value, dict) else list(value or [])
                if not items:
                    yield from _execute(else_body, dot)
                for item in items:
                    yield from _execute(body, item)
            elif kind == "with":
                yield from _execute(body if _truthy(value) else else_body, value if _truthy(value) else dot)
            else:
                yield from _execute(body if _truthy(value) else else_body, dot)


def _truthy(value: Any) -> bool:
    return bool(value) and value != "0001-01-01T00:00:00Z"


def _evaluate(expression: str, dot: Any) -> Any:
    try:
        words = shlex.split(expression, posix=True)
    except ValueError as exc:
        raise UsageError(f"template: bad action {{{{{expression}}}}}: {exc}") from None
    if not words:
        return ""
    if words[0].startswith(".") or words[0] == "." or len(words) == 1 and not _is_function(words[0]):
        value = _field(words[0], dot)
        if len(words) == 1:
            return value
        if not callable(value):  # a method such as ps's {{.Label "com.example"}} takes arguments
            raise UsageError(f"template: can't give arguments to a field: {{{{{expression}}}}}")
        return value(*[_argument(word, dot) for word in words[1:]])
    function, args = words[0], [_argument(w, dot) for w in words[1:]]
    return _call(function, args, expression)


def _is_function(word: str) -> bool:
    return word in _FUNCTIONS


def _argument(word: str, dot: Any) -> Any:
    if word.startswith("."):
        return _field(word, dot)
    return word


def _field(path: str, dot: Any) -> Any:
    if path == ".":
        return dot
    value = dot
    for part in path.strip(".").split("."):
        if isinstance(value, dict):
            if part not in value:
                return None
            value = value[part]
        elif value is None:
            return None
        else:
            if not hasattr(value, part):
                raise UsageError(f"template: can't evaluate field {part}")
            value = getattr(value, part)
    return value


def _call(function: str, args: list, expression: str) -> Any:
    if function not in _FUNCTIONS:
        raise UsageError(f'template: function "{function}" not defined')
    try:
        return _FUNCTIONS[function](*args)
    except (TypeError, KeyError, IndexError) as exc:
        raise UsageError(f"template: error calling {function}: {exc}") from None


def _json(value: Any) -> str:
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    if hasattr(value, "template_fields"):
        return value.template_fields()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key)
        else:
            value = value[int(key)]
    return value


_FUNCTIONS = {
    "json": _json,
    "index": _index,
    "join": lambda items, sep: sep.join(format_value(i) for i in (items or [])),
    "upper": lambda s: format_value(s).upper(),
    "lower": lambda s: format_value(s).lower(),
    "title": lambda s: format_value(s).title(),
    "len": lambda v: len(v or []),
    "println": lambda *a: " ".join(format_value(x) for x in a) + "\n",
    "print": lambda *a: "".join(format_value(x) for x in a),
    "split": lambda s, sep: format_value(s).split(sep),
    "truncate": lambda s, n: format_value(s)[: int(n)],
}


def format_value(value: Any) -> str:
    """Print a value the way Go's fmt does for template output."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{format_value(v)}" for k, v in sorted(value.items())) + "]"
    if hasattr(value, "template_fields"):
        return format_value(value.template_fields())
    return str(value)
