"""The Dockerfile parser: lines, directives, continuations, heredocs and argument rules."""

from __future__ import annotations

import pytest

from lamina.build.dockerfile.parser import Heredoc, parse, parse_heredoc_word
from lamina.errors import DockerfileError


def dump(text: str) -> list[str]:
    return parse(text).dump().splitlines()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # instruction words are case-insensitive; the dump is lower case
        ("from alpine\nRuN echo hi\n", ['(from "alpine")', '(run "echo hi")']),
        # exec form vs shell form; malformed JSON falls back to the shell form
        ('FROM a\nCMD ["x", "y"]\n', ['(from "a")', '(cmd "x" "y")']),
        ("FROM a\nCMD [x, y]\n", ['(from "a")', '(cmd "[x, y]")']),
        ("FROM a\nCMD ['x']\n", ['(from "a")', "(cmd \"['x']\")"]),
        ('FROM a\nCMD ["x"] trailing\n', ['(from "a")', '(cmd "[\\"x\\"] trailing")']),
        ("FROM a\nCMD [NaN]\n", ['(from "a")', '(cmd "[NaN]")']),
        # flags come off the front; quotes in flags are removed; "--" ends them
        (
            'FROM a\nCOPY --from=b --chown="x y" s /d\n',
            ['(from "a")', '(copy ["--from=b" "--chown=x y"] "s" "/d")'],
        ),
        ("FROM a\nCOPY -- --s /d\n", ['(from "a")', '(copy "--s" "/d")']),
        # ADD/COPY/VOLUME split on blanks, or take a JSON array
        ('FROM a\nVOLUME ["/a b", "/c"]\n', ['(from "a")', '(volume "/a b" "/c")']),
        ("FROM a\nVOLUME /x  /y\n", ['(from "a")', '(volume "/x" "/y")']),
        # ENV: new form keeps quotes (removed at expansion); legacy form takes the rest of the line
        ('FROM a\nENV A="x y" B=z\n', ['(from "a")', '(env "A" "\\"x y\\"" "=" "B" "z" "=")']),
        ("FROM a\nENV A x  y\n", ['(from "a")', '(env "A" "x  y" "")']),
        ('FROM a\nLABEL "k"="v"\n', ['(from "a")', '(label "\\"k\\"" "\\"v\\"" "=")']),
        ("FROM a\nARG X Y=1\n", ['(from "a")', '(arg "X" "Y=1")']),
        # HEALTHCHECK keeps its type word first
        (
            "FROM a\nHEALTHCHECK --retries=3 CMD curl -f x\n",
            ['(from "a")', '(healthcheck ["--retries=3"] "CMD" "curl -f x")'],
        ),
        ("FROM a\nHEALTHCHECK NONE\n", ['(from "a")', '(healthcheck "NONE")']),
        # ONBUILD nests its trigger, flags included
        (
            "FROM a\nONBUILD COPY --from=b x y\n",
            ['(from "a")', '(onbuild (copy ["--from=b"] "x" "y"))'],
        ),
        # unknown instructions survive parsing (instructions.py rejects them)
        ("FROM a\nFOO bar\n", ['(from "a")', '(foo "")']),
    ],
)
def test_argument_rules(text, expected):
    assert dump(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a\nRUN a \\\n  b\n", '(run "a   b")'),
        # comment and empty lines inside a continuation are skipped
        ("FROM a\nRUN a \\\n# note\n\n  b\n", '(run "a   b")'),
        # a trailing continuation at end of file just ends the instruction
        ("FROM a\nRUN a \\", '(run "a")'),
        # an escaped escape token is not a continuation
        ("FROM a\nRUN a \\\\\n", '(run "a \\\\\\\\")'),
        # CRLF line endings
        ("FROM a\r\nRUN a \\\r\n b\r\n", '(run "a  b")'),
        # a lone continuation token on its own line
        ("FROM a\nRUN a \\\n\\\nb\n", '(run "a b")'),
    ],
)
def test_line_continuations(text, expected):
    assert dump(text)[-1] == expected


def test_empty_continuation_lines_give_a_warning():
    parsed = parse("FROM a\nRUN a \\\n\n b\n")
    assert parsed.warnings == ["Empty continuation line found in: RUN a  b"]


def test_utf8_bom_is_ignored():
    assert dump("\ufeffFROM a\n") == ['(from "a")']
    assert parse(b"\xef\xbb\xbfFROM a\n").nodes[0].args == ["a"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nFROM a\n", ["syntax", "escape", "check"]),
        ("#SYNTAX = x\nFROM a\n", ["syntax"]),
        # a comment, a blank line or an instruction ends the directives
        ("# hello\n# escape=`\nFROM a\n", []),
        ("\n# escape=`\nFROM a\n", []),
        ("FROM a\n# escape=`\n", []),
        # unknown directive names are plain comments and end the directives too
        ("# foo=bar\n# escape=`\nFROM a\n", []),
    ],
)
def test_parser_directives_only_at_the_top(text, names):
    assert [d.name for d in parse(text).directives] == names


def test_syntax_directive_is_reported():
    parsed = parse("# syntax = docker/dockerfile:1.7 \nFROM a\n")
    assert parsed.syntax == "docker/dockerfile:1.7"
    assert parsed.directives[0].line == 1


def test_escape_directive_switches_to_backtick():
    parsed = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  /w\n")
    assert parsed.escape == "`"
    assert parsed.nodes[1].args == ["dir c:\\   /w"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# escape=x\nFROM a\n", "Dockerfile:1: invalid escape token 'x' does not match ` or \\"),
        ("# escape=`\n# escape=\\\nFROM a\n", "Dockerfile:2: only one escape parser directive can be used"),
        ("", "Dockerfile:1: file with no instructions"),
        ("# only\n# comments\n", "Dockerfile:2: file with no instructions"),
        ("FROM a\nENV X\n", "Dockerfile:2: ENV must have two arguments"),
        ("FROM a\nENV A=1 B\n", 'Dockerfile:2: Syntax error - can\'t find = in "B". Must be of the form: name=value'),
        ('FROM a\nCMD ["a", 1]\n', "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"),
        ("FROM a\nRUN <<EOF\nhello\n", "Dockerfile:2: unterminated heredoc"),
    ],
)
def test_parse_errors_name_the_line(text, message):
    with pytest.raises(DockerfileError) as excinfo:
        parse(text)
    assert str(excinfo.value) == message


def test_error_uses_given_filename():
    with pytest.raises(DockerfileError, match=r"^web\.Dockerfile:2: "):
        parse("FROM a\nENV X\n", filename="web.Dockerfile")


def test_instruction_lines_span_continuations_and_heredocs():
    parsed = parse("FROM a\n\nRUN a \\\n b\nCOPY <<EOF /x\nhi\nEOF\nUSER u\n")
    assert [(n.keyword, n.start_line, n.end_line) for n in parsed.nodes] == [
        ("from", 1, 1),
        ("run", 3, 4),
        ("copy", 5, 7),
        ("user", 8, 8),
    ]


@pytest.mark.parametrize(
    ("text", "heredocs"),
    [
        ("FROM a\nRUN <<EOF\necho hi\nEOF\n", [Heredoc("EOF", "echo hi\n")]),
        ("FROM a\nRUN << EOF\nx\nEOF\n", [Heredoc("EOF", "x\n")]),
        ('FROM a\nRUN <<"EOF"\n$x\nEOF\n', [Heredoc("EOF", "$x\n", expand=False)]),
        ("FROM a\nRUN <<'EOF'\n$x\nEOF\n", [Heredoc("EOF", "$x\n", expand=False)]),
        ("FROM a\nRUN <<-EOF\n\tx\n\tEOF\n", [Heredoc("EOF", "\tx\n", chomp=True)]),
        ("FROM a\nRUN 3<<EOF cat /dev/fd/3\nx\nEOF\n", [Heredoc("EOF", "x\n", file_descriptor=3)]),
        (
            "FROM a\nRUN <<A cat && cat <<B\na\nA\nb\nB\n",
            [Heredoc("A", "a\n"), Heredoc("B", "b\n")],
        ),
        ("FROM a\nCOPY <<EOF /dst\ncontent\nEOF\n", [Heredoc("EOF", "content\n")]),
        ("FROM a\nRUN <<EOF\r\nx\r\nEOF\r\n", [Heredoc("EOF", "x\r\n")]),
        ("FROM a\nONBUILD RUN <<EOF\nx\nEOF\n", [Heredoc("EOF", "x\n")]),
        # exec form and other instructions take no heredocs
        ('FROM a\nRUN ["cat", "<<EOF"]\n', []),
        ("FROM a\nENV A=<<EOF\n", []),
        # only whole words are heredocs
        ("FROM a\nRUN echo '<<EOF'\n", []),
    ],
)
def test_heredocs(text, heredocs):
    assert parse(text).nodes[-1].heredocs == heredocs


def test_chomped_heredoc_text_drops_leading_tabs():
    heredoc = parse("FROM a\nRUN <<-EOF\n\t\tx\n\ty\nEOF\n").nodes[1].heredocs[0]
    assert heredoc.text() == "x\ny\n"


def test_heredoc_line_is_the_instruction_without_the_body():
    node = parse("FROM a\nRUN <<EOF\nx\nEOF\n").nodes[1]
    assert node.args == ["<<EOF"]
    assert node.original == "RUN <<EOF"


@pytest.mark.parametrize(
    ("word", "name", "expand"),
    [
        ("<<EOF", "EOF", True),
        ('<<"EOF"', "EOF", False),
        ("<<E'O'F", "EOF", False),
        ("<<-EOF", "EOF", True),
        ("<<", None, None),
        ("<<a b", None, None),
        ("EOF", None, None),
    ],
)
def test_heredoc_word(word, name, expand):
    heredoc = parse_heredoc_word(word)
    assert (heredoc.name if heredoc else None) == name
    assert (heredoc.expand if heredoc else None) == expand


def test_comments_before_an_instruction_are_kept():
    parsed = parse("FROM a\n# the version\n# of the tool\nARG V=1\n")
    assert parsed.nodes[1].comments == ["the version", "of the tool"]
