"""The subset of Go's text/template that docker's ``--format`` flags use.

Supported: fields (``{{.A.B}}``, ``{{.}}``), variables (``{{$}}``, ``{{$v.Field}}``, set by
``{{range $k, $v := .X}}`` or ``{{range $v := .X}}``), parenthesised pipelines with fields
after them (``{{(index $conf 0).HostPort}}``), pipes (``{{.Name | printf "%q"}}``), methods
with arguments (``{{.Label "k"}}``), the functions ``json index join upper lower title len
println print printf split truncate``, ``range``/``if``/``with`` … ``else`` … ``end``, and
``table`` prefixes handled by the caller. Values print the way Go prints them (``[a b]``,
``map[k:v]``); a map ranges in key order, as in Go.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lamina.errors import UsageError

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*") | (?P<raw>`[^`]*`) | (?P<open>\() | (?P<close>\))(?P<after>(?:\.\w+)*)
    | (?P<pipe>\|) | (?P<var>\$\w*(?:\.\w+)*) | (?P<field>\.(?:\w+(?:\.\w+)*)?)
    | (?P<num>-?\d+(?:\.\d+)?) | (?P<word>[A-Za-z_]\w*) | (?P<bad>\S)
)""", re.X)
_RANGE_VARIABLES = re.compile(r"^\s*(\$\w*)\s*(?:,\s*(\$\w*)\s*)?:=\s*(.*)$", re.S)


def render(template: str, data: Any) -> str:
    nodes = _parse(template)
    return "".join(_execute(nodes, data, {"$": data}))


def _parse(template: str) -> list:
    """Nodes: str | ('expr', text) | [kind, text, body, else_body] for range/if/with."""
    root: list = []
    stack: list[tuple[list, list | None]] = [(root, None)]
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


def _execute(nodes: list, dot: Any, variables: dict[str, Any]):
    for node in nodes:
        if isinstance(node, str):
            yield node
        elif isinstance(node, tuple):
            yield format_value(_evaluate(node[1], dot, variables))
        else:
            kind, expression, body, else_body = node
            if kind == "range":
                yield from _range(expression, body, else_body, dot, variables)
                continue
            value = _evaluate(expression, dot, variables)
            if kind == "with":
                yield from _execute(body if _truthy(value) else else_body, value if _truthy(value) else dot, variables)
            else:
                yield from _execute(body if _truthy(value) else else_body, dot, variables)


def _range(expression: str, body: list, else_body: list, dot: Any, variables: dict[str, Any]):
    """``range [$k,] [$v :=] PIPELINE``: maps in key order, as Go ranges them."""
    names: tuple[str | None, str | None] = (None, None)
    declared = _RANGE_VARIABLES.match(expression)
    if declared:
        first, second, expression = declared.groups()
        names = (first, second) if second else (None, first)
    value = _evaluate(expression, dot, variables)
    if isinstance(value, dict):
        pairs = [(key, value[key]) for key in sorted(value)]
    else:
        pairs = list(enumerate(value or []))
    if not pairs:
        yield from _execute(else_body, dot, variables)
    for key, item in pairs:
        scope = dict(variables)
        if names[0]:
            scope[names[0]] = key
        if names[1]:
            scope[names[1]] = item
        yield from _execute(body, item, scope)


def _truthy(value: Any) -> bool:
    return bool(value) and value != "0001-01-01T00:00:00Z"


# -- expressions: pipelines of commands ---------------------------------------------------------


def _evaluate(expression: str, dot: Any, variables: dict[str, Any]) -> Any:
    tokens = _tokens(expression)
    if not tokens:
        return ""
    pipeline, rest = _pipeline(tokens, expression)
    if rest:
        raise UsageError(f"template: unexpected {rest[0][1]!r} in {{{{{expression}}}}}")
    return _run_pipeline(pipeline, dot, variables, expression)


def _tokens(expression: str) -> list[tuple[str, str, str]]:
    tokens = []
    for match in _TOKEN.finditer(expression):
        kind = match.lastgroup if match.lastgroup != "after" else "close"
        if kind == "bad":
            raise UsageError(f"template: bad character {match.group(kind)!r} in {{{{{expression}}}}}")
        if kind == "close":
            tokens.append(("close", ")", match.group("after") or ""))
        else:
            tokens.append((kind, match.group(kind), ""))
    return tokens


def _pipeline(tokens: list, expression: str) -> tuple[list, list]:
    """Commands (lists of operands) split at ``|``, up to a closing parenthesis."""
    commands: list[list] = [[]]
    while tokens:
        kind, text, after = tokens[0]
        if kind == "close":
            break
        tokens = tokens[1:]
        if kind == "pipe":
            commands.append([])
        elif kind == "open":
            inner, tokens = _pipeline(tokens, expression)
            if not tokens:
                raise UsageError(f"template: unclosed left paren in {{{{{expression}}}}}")
            commands[-1].append(("paren", inner, tokens[0][2]))
            tokens = tokens[1:]
        else:
            commands[-1].append((kind, text, after))
    if any(not command for command in commands):
        raise UsageError(f"template: missing command in {{{{{expression}}}}}")
    return commands, tokens


def _run_pipeline(commands: list, dot: Any, variables: dict[str, Any], expression: str) -> Any:
    result: Any = _NOTHING
    for command in commands:
        result = _run_command(command, dot, variables, expression, result)
    return result


_NOTHING = object()


def _run_command(command: list, dot: Any, variables: dict[str, Any], expression: str, piped: Any) -> Any:
    head = command[0]
    args = [_operand(operand, dot, variables, expression) for operand in command[1:]]
    if piped is not _NOTHING:
        args.append(piped)
    if head[0] == "word" and head[1] not in ("true", "false", "nil"):
        return _call(head[1], args, expression)
    value = _operand(head, dot, variables, expression)
    if not args:
        return value
    if not callable(value):  # a method such as ps's {{.Label "com.example"}} takes arguments
        raise UsageError(f"template: can't give arguments to a field: {{{{{expression}}}}}")
    return value(*args)


def _operand(operand: tuple, dot: Any, variables: dict[str, Any], expression: str) -> Any:
    kind = operand[0]
    if kind == "paren":
        return _field(operand[2], _run_pipeline(operand[1], dot, variables, expression))
    text = operand[1]
    if kind == "field":
        return _field(text, dot)
    if kind == "var":
        name, _, path = text.partition(".")
        if name not in variables:
            raise UsageError(f"template: undefined variable: {name}")
        return _field("." + path, variables[name]) if path else variables[name]
    if kind == "str":
        return json.loads(text)
    if kind == "raw":
        return text[1:-1]
    if kind == "num":
        return float(text) if "." in text else int(text)
    if kind == "word":
        return {"true": True, "false": False, "nil": None}.get(text, text)
    raise UsageError(f"template: unexpected {text!r} in {{{{{expression}}}}}")


def _field(path: str, dot: Any) -> Any:
    if path in ("", "."):
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
    except (TypeError, KeyError, IndexError, ValueError) as exc:
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


def _printf(pattern: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs templates use: %s %v %d %q %%."""
    values = iter(args)

    def verb(match: re.Match) -> str:
        letter = match.group(2)
        if letter == "%":
            return "%"
        value = next(values, None)
        if letter == "q":
            return json.dumps(format_value(value), ensure_ascii=False)
        text = format_value(value)
        width = match.group(1)
        return f"{text:{'<' if width.startswith('-') else '>'}{width.lstrip('-')}}" if width else text

    return re.sub(r"%(-?\d*)([svdq%])", verb, pattern)


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
    "printf": _printf,
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
