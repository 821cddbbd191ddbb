"""Shell-word expansion as BuildKit does it for Dockerfile instructions.

Docker does not run a shell to expand ``$VAR`` in ``COPY``, ``ENV``, ``WORKDIR`` and friends: it
has its own small lexer with its own rules (only some ``${...}`` forms, no command substitution,
``\\$`` escapes, quotes removed, words split only where the instruction asks for it). Builds must
expand words exactly the same way or the same Dockerfile produces a different image, so this
module follows BuildKit's behaviour, including its corner cases (``$1`` is always empty, ``${V:#p}``
is an error, an escape token at the end of a word is dropped).

The environment is a plain mapping; names are case-sensitive (Linux semantics).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from lamina.build.dockerfile.limits import MAX_WORD, human
from lamina.errors import BuildError

#: Characters Go's ``unicode.IsSpace`` accepts; Python's ``str.isspace`` accepts a few more.
GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

_GO_SPACE_RE = re.compile("[" + "".join(sorted(GO_SPACE)) + "]")

#: POSIX special parameters; ``$@`` and friends are never set in a Dockerfile, so they expand empty.
_SPECIAL_PARAMETERS = frozenset("@*#?-$!0")

#: Instructions whose arguments go through word expansion (BuildKit's list). RUN, CMD, ENTRYPOINT,
#: SHELL, HEALTHCHECK, MAINTAINER and ONBUILD text is left for the shell or kept verbatim.
EXPANDING_INSTRUCTIONS = frozenset(
    {"from", "add", "copy", "env", "expose", "label", "stopsignal", "user", "volume", "workdir", "arg"}
)

#: Instruction flags whose values are expanded: ``FROM --platform``, ``COPY``/``ADD --chown`` and
#: ``--chmod``, ``ADD --checksum`` and each ``RUN --mount`` field. ``COPY --from`` is not: BuildKit
#: refuses a ``--from`` that expansion would change.
EXPANDING_FLAGS = frozenset({"platform", "chown", "chmod", "checksum", "mount"})


class ShellWordError(BuildError):
    """A word cannot be expanded (unterminated quote, bad ``${}``, ``${V:?msg}`` on an unset V)."""


class WordExpansion(msgspec.Struct):
    """The outcome of expanding one word.

    ``used`` and ``unset`` name the variables the word referred to that were set / not set; the
    build cache keys on the first, "unused build-arg" and undefined-variable warnings on both.
    """

    result: str
    words: list[str]
    used: set[str] = msgspec.field(default_factory=set)
    unset: set[str] = msgspec.field(default_factory=set)


def process_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand ``word`` to a single string (quotes removed, spaces kept)."""
    return ShellLex(escape).expand(word, env).result


def process_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand ``word`` and split it on unquoted whitespace (how EXPOSE reads ``$PORTS``)."""
    return ShellLex(escape).expand(word, env).words


def expand_with_matches(word: str, env: Mapping[str, str], escape: str = "\\") -> WordExpansion:
    """Expand ``word`` and also report which variables it used."""
    return ShellLex(escape).expand(word, env)


class ShellLex:
    """A configurable expander; the defaults are what instruction arguments get.

    ``raw_quotes`` keeps quote characters in the output, ``raw_escapes`` keeps escape tokens and
    ``skip_unset`` leaves references to unset variables as written: the parser uses all three to
    find heredoc words on a line without changing them.
    """

    __slots__ = ("escape", "raw_quotes", "raw_escapes", "skip_unset", "skip_quotes")

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset: bool = False,
        skip_quotes: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self.skip_quotes = skip_quotes

    def expand(self, word: str, env: Mapping[str, str]) -> WordExpansion:
        """Expand ``word``; raise :class:`ShellWordError` naming the word when it is malformed."""
        scan = _Scan(self, word, env)
        try:
            result, words = scan.until(None, self.raw_escapes)
        except ShellWordError as exc:
            shown = word if len(word) <= 200 else word[:200] + "..."  # a message stays one short line
            raise ShellWordError(f"failed to process {go_quote(shown)}: {exc}") from None
        return WordExpansion(result, words, scan.used, scan.unset)


class _Words:
    """Collects words as text is produced; unquoted whitespace from expansions splits words."""

    __slots__ = ("buf", "words", "in_word")

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch in GO_SPACE:
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf.clear()
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_text(self, text: str) -> None:
        if _GO_SPACE_RE.search(text) is None:  # one piece of a word: no per-character loop
            if text:
                self.add_raw(text)
            return
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def finish(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf.clear()
            self.in_word = False
        return self.words


class _Scan:
    """One pass over one word: a cursor plus the variables seen."""

    __slots__ = ("lex", "text", "pos", "env", "used", "unset")

    def __init__(self, lex: ShellLex, text: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.used: set[str] = set()
        self.unset: set[str] = set()

    def peek(self) -> str:
        """The next character, or "" at the end."""
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.used.add(name)
            return self.env[name], True
        self.unset.add(name)
        return "", False

    def until(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        """Expand up to (and consuming) ``stop``, or to the end when ``stop`` is None."""
        lex = self.lex
        escape = lex.escape
        text = self.text
        result: list[str] = []
        words = _Words()
        size = 0  # of the expansions so far: a word may not grow past MAX_WORD
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == stop:
                self.pos += 1
                return "".join(result), words.finish()
            if ch == "$":
                expanded = self.dollar()
                size += len(expanded)
                _check_size(size)
                result.append(expanded)
                words.add_text(expanded)
            elif ch == "<":
                heredoc = self.possible_heredoc()
                result.append(heredoc)
                words.add_raw(heredoc)
            elif (ch == "'" or ch == '"') and not lex.skip_quotes:
                quoted = self.single_quoted() if ch == "'" else self.double_quoted(raw_escapes)
                size += len(quoted)
                _check_size(size)
                result.append(quoted)
                words.add_raw(quoted)
            else:
                self.pos += 1
                if ch == escape:
                    if raw_escapes:
                        words.add_raw(ch)
                        result.append(ch)
                    if self.pos >= len(text):
                        break  # an escape token ending the word is dropped
                    ch = text[self.pos]
                    self.pos += 1
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop is not None:
            raise ShellWordError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def single_quoted(self) -> str:
        """Everything up to the next ``'`` is literal; there is no way to escape ``'``."""
        raw = self.lex.raw_quotes
        self.pos += 1
        end = self.text.find("'", self.pos)
        if end < 0:
            raise ShellWordError("unexpected end of statement while looking for matching single-quote")
        body = self.text[self.pos : end]
        self.pos = end + 1
        return f"'{body}'" if raw else body

    def double_quoted(self, raw_escapes: bool) -> str:
        """``$`` expands; the escape token only escapes ``"``, ``$`` and itself."""
        lex = self.lex
        escape = lex.escape
        self.pos += 1
        out: list[str] = ['"'] if lex.raw_quotes else []
        size = 0
        while True:
            ch = self.peek()
            if not ch:
                raise ShellWordError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.pos += 1
                if lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                expanded = self.dollar()
                size += len(expanded)
                _check_size(size)
                out.append(expanded)
                continue
            self.pos += 1
            if ch == escape:
                if raw_escapes:
                    out.append(ch)
                following = self.peek()
                if not following:
                    continue  # the unterminated quote is reported on the next turn
                if following in ('"', "$", escape):
                    ch = self.next()
            out.append(ch)

    def dollar(self) -> str:
        """Expand ``$NAME``, ``${NAME}`` or ``${NAME<modifier>word}`` at the cursor."""
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.lex.skip_unset:
                return "$" + name
            return value

        self.pos += 1
        first = self.peek()
        if not first:
            raise ShellWordError("syntax error: missing '}'")
        if first in "{}:":
            raise ShellWordError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.lex.skip_unset:
                return "${" + name + "}"
            return value
        if ch == "/":
            return self.substitute(name)
        if not ch:
            raise ShellWordError("syntax error: missing '}'")

        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
        if not ch or ch not in ("+", "-", "?", "#", "%"):
            raise ShellWordError(f"unsupported modifier ({modifier}) in substitution")
        pattern_like = ch in ("#", "%")
        if null_is_unset and pattern_like:
            raise ShellWordError(f"unsupported modifier ({modifier}) in substitution")
        word = self.word_until_brace(raw_escapes=pattern_like)

        value, found = self.lookup(name)
        if self.lex.skip_unset and not found:
            return "${" + name + modifier + word + "}"
        is_null = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if is_null else value
        if ch == "+":
            return "" if is_null else word
        if ch == "?":
            if not found:
                raise ShellWordError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise ShellWordError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = word.startswith(ch)
        if greedy:
            word = word[1:]
        if ch == "%":
            return _trim_suffix(word, value, greedy)
        return _trim_prefix(word, value, greedy)

    def word_until_brace(self, raw_escapes: bool) -> str:
        try:
            word, _ = self.until("}", raw_escapes)
        except ShellWordError:
            if not self.peek():
                raise ShellWordError("syntax error: missing '}'") from None
            raise
        return word

    def substitute(self, name: str) -> str:
        """``${NAME/pattern/replacement}`` and ``${NAME//pattern/replacement}``."""
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        try:
            pattern, _ = self.until("/", True)
        except ShellWordError:
            if not self.peek():
                raise ShellWordError("syntax error: missing '/' in ${}") from None
            raise
        replacement = self.word_until_brace(raw_escapes=True)
        value, found = self.lookup(name)
        if self.lex.skip_unset and not found:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = shell_pattern_regex(pattern, greedy=True, anchored=False)
        if not replace_all:
            match = regex.search(value)
            if match is None:
                return value
            return value[: match.start()] + replacement + value[match.end() :]
        # every match may add the whole replacement: grow piece by piece, within MAX_WORD
        pieces: list[str] = []
        size = 0
        end = 0
        for match in regex.finditer(value):
            piece = value[end : match.start()] + _go_template(replacement, value[match.start() : match.end()])
            size += len(piece)
            _check_size(size)
            pieces.append(piece)
            end = match.end()
        pieces.append(value[end:])
        _check_size(size + len(value) - end)
        return "".join(pieces)

    def name(self) -> str:
        """Read a variable name: digits (positional), one special character, or ``[A-Za-z0-9_]+``."""
        text = self.text
        start = self.pos
        if start >= len(text):
            return ""
        ch = text[start]
        if ch.isdecimal():
            end = start
            while end < len(text) and text[end].isdecimal():
                end += 1
            self.pos = end
            return text[start:end]
        if ch in _SPECIAL_PARAMETERS:
            self.pos += 1
            return ch
        end = start
        while end < len(text) and (text[end].isalpha() or text[end].isdecimal() or text[end] == "_"):
            end += 1
        self.pos = end
        return text[start:end]

    def possible_heredoc(self) -> str:
        """``<<`` swallows the blanks after it so ``<< EOF`` reads as the word ``<<EOF``."""
        self.pos += 1
        if self.peek() != "<":
            return "<"
        self.pos += 1
        start = self.pos
        while self.peek() in ("\t", "\r", " "):
            self.pos += 1
        return "<<" + self.text[start : self.pos]


_REGEX_SPECIAL = frozenset("[]{}.+()|^$")


def _check_size(size: int) -> None:
    if size > MAX_WORD:
        raise ShellWordError(f"the expanded word grows past {human(MAX_WORD)} (lamina's limit)")


def shell_pattern_regex(pattern: str, *, greedy: bool, anchored: bool):
    """Translate a ``${V#pattern}``-style pattern (``*``, ``?``, ``\\`` escapes; no brackets).

    Two or more ``*`` run on RE2, as .dockerignore patterns do: ``${V#*a*a*a*b}`` over a long
    value would take Python's backtracking ``re`` exponential time.
    """
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    stars = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
            stars += 1
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i] if i < len(pattern) else ""
            if following in ("}", "/"):
                continue  # the escape only protected the ${} syntax
            if following not in ("*", "?", "\\"):
                raise ShellWordError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'")
            out.append("\\" + following)
            i += 1
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(re.escape(ch))
    if stars < 2:
        return re.compile("".join(out))
    return _Re2Pattern("".join(out))


class _Re2Pattern:
    """RE2 behind ``re``'s ``search``/``finditer``; RE2 reads UTF-8, so a surrogate escape (a
    byte of a build arg that is not UTF-8) is read as U+FFFD, keeping every offset."""

    def __init__(self, source: str) -> None:
        import re2  # google-re2, only for patterns that need it

        options = re2.Options()
        options.log_errors = False
        self._regex = re2.compile(_utf8_safe(source), options)

    def search(self, text: str):
        return self._regex.search(_utf8_safe(text))

    def finditer(self, text: str):
        return self._regex.finditer(_utf8_safe(text))


def _utf8_safe(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = shell_pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex cannot find the shortest rightmost match, so search the reversed string.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping each ``\\x`` escape pair in order."""
    units: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            units.append(pattern[i : i + 2])
            i += 2
        else:
            units.append(pattern[i])
            i += 1
    return "".join(reversed(units))


_TEMPLATE_NAME = re.compile(r"\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+)")


def _go_template(template: str, whole_match: str) -> str:
    """Go's ``Regexp.Expand`` for a pattern without groups: ``$0`` is the match, ``$$`` a dollar.

    BuildKit passes the replacement of ``${V//p/r}`` through it, so ``$0`` and ``$name`` mean
    something there (and only there: ``${V/p/r}`` inserts the replacement literally).
    """
    if "$" not in template:
        return template
    out: list[str] = []
    i = 0
    while True:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            return "".join(out)
        out.append(template[i:j])
        i = j + 1
        if template.startswith("$", i):
            out.append("$")
            i += 1
            continue
        m = _TEMPLATE_NAME.match(template, i)
        if m is None:
            out.append("$")
            continue
        i = m.end()
        name = m.group(1) or m.group(2)
        if name == "0":
            out.append(whole_match)


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: how BuildKit prints strings in errors and AST dumps."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(_GO_ESCAPES.get(ch) or _go_escape_code(ch))
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_escape_code(ch: str) -> str:
    code = ord(ch)
    if code < 0x80:
        return f"\\x{code:02x}"
    if 0xD800 <= code <= 0xDFFF:
        return "\\ufffd"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
