"""Differential test: lamina's parser against BuildKit's own Go parser (PyPI ``dockerfile``).

The ``dockerfile`` wheel exists for x86_64 only; elsewhere this module is skipped.
"""

from __future__ import annotations

import pytest
from buildkit_testdata import PARSER_CASES, PARSER_NEGATIVE_CASES, case_dirs

from lamina.build.dockerfile.parser import Node, parse
from lamina.errors import DockerfileError

dockerfile = pytest.importorskip("dockerfile", reason="BuildKit's Go parser wheel is x86_64-only")

TRICKY = {
    "directives-and-escape": "# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN dir `\n  c:\\\n",
    "crlf-bom": "\ufeffFROM a\r\nRUN a \\\r\n  b\r\nENV X=1\r\n",
    "comments-inside-continuation": "FROM a\nRUN a \\\n# c\n\n   \\\n b\n",
    "continuation-at-eof": "FROM a\nRUN a \\",
    "escaped-escape": "FROM a\nRUN echo a\\\\\nRUN echo b\n",
    "json-forms": 'FROM a\nCMD ["a", "b"]\nCMD [a]\nENTRYPOINT []\nSHELL ["/bin/bash", "-c"]\nCMD ["\\u00e9\\n"]\n',
    # Not here: 'CMD ["a"] x'. Since dockerfile/1.10 BuildKit reads it as shell form (lamina too);
    # the wheel's older parser ignored the trailing text. test_dockerfile_parser.py covers it.
    "json-spacing": 'FROM a\nRUN [ "a" , "b" ]  \n',
    "flags": 'FROM --platform=$P a AS b\nCOPY --chown="a b" --from=b -- x y\nRUN --mount=type=cache,target=/c --network=none x\n',
    "flag-escapes": "FROM a\nCOPY --chown=a\\ b --x='' y z\n",
    "env-forms": 'FROM a\nENV A=1 B="2 3" C=4\\ 5\nENV D   the rest  of it\nLABEL "x y"=z a=\'b c\'\n',
    "arg-forms": "ARG A\nARG B=1 C\nFROM a\nARG D=\"x y\"\n",
    "healthcheck": "FROM a\nHEALTHCHECK NONE\nHEALTHCHECK --interval=5s --retries=3 CMD [\"x\"]\nHEALTHCHECK CMD curl -f x\n",
    "onbuild": "FROM a\nONBUILD RUN x\nONBUILD COPY . /\nONBUILD\nonbuild add [\"a\", \"b\"]\n",
    "case-insensitive": "from a as b\nrun x\nCopy a b\nWorkDir /x\n",
    "unknown-instruction": "FROM a\nFOO bar baz\n",
    "heredocs": "FROM a\nRUN <<EOF\necho hi\nEOF\nRUN <<-EOT bash\n\tx\n\tEOT\nCOPY <<A <<'B' /dst/\na\nA\nb $x\nB\n",
    "heredoc-fd": "FROM a\nRUN 3<<EOF cat /proc/self/fd/3\nx\nEOF\n",
    "heredoc-crlf": "FROM a\r\nRUN <<EOF\r\nx\r\nEOF\r\n",
    "heredoc-json-form": 'FROM a\nRUN ["cat", "<<EOF"]\n',
    "heredoc-quoted-word": "FROM a\nRUN echo '<<EOF'\n",
    "expose-volume": "FROM a\nEXPOSE 80 443/udp\nVOLUME /a /b\nVOLUME [\"/c\"]\n",
    "unicode": "FROM a\nLABEL desc=\"héllo wörld ♥\"\nRUN echo 안녕\n",
    "blank-lines-and-indent": "\n\n   FROM a\n\n\t RUN   x   y  \n",
    "maintainer-user-workdir": "FROM a\nMAINTAINER Me <me@x>\nUSER a:b\nWORKDIR /a b\nSTOPSIGNAL SIGTERM\n",
    "env-no-value": "FROM a\nENV X\n",
    "env-missing-equals": "FROM a\nENV A=1 B\n",
    "nested-json": 'FROM a\nCMD ["a", ["b"]]\n',
    "unterminated-heredoc": "FROM a\nRUN <<EOF\nx\n",
    "duplicate-directive": "# escape=`\n# escape=`\nFROM a\n",
    "bad-escape-directive": "# escape=x\nFROM a\n",
    "empty": "",
}


def corpus() -> dict[str, str]:
    texts = dict(TRICKY)
    for folder in (PARSER_CASES, PARSER_NEGATIVE_CASES):
        for case in case_dirs(folder):
            texts[f"buildkit/{case}"] = (folder / case / "Dockerfile").read_text(encoding="utf-8")
    return texts


CORPUS = corpus()


def lamina_view(node: Node) -> dict:
    """Project lamina's node onto the fields the ``dockerfile`` package reports."""
    target = node.trigger or node
    args = target.args
    if target.keyword in ("env", "label"):
        args = [arg for index, arg in enumerate(args) if index % 3 != 2]
    view = {
        "cmd": node.instruction,
        "sub_cmd": node.trigger.instruction if node.trigger else None,
        "json": target.json,
        "start_line": node.start_line,
        "end_line": node.end_line,
        "flags": list(node.flags),
        # the wheel hands strings over as C strings: they end at the first NUL
        "value": [arg.split("\x00")[0] for arg in args],
    }
    if node.trigger is None:  # the wheel's BuildKit predates heredocs under ONBUILD
        view["heredocs"] = [(h.name, h.file_descriptor, h.content) for h in node.heredocs]
        if not node.heredocs:
            view["original"] = node.original
    return view


def buildkit_view(command, with_heredocs: bool) -> dict:
    view = {
        "cmd": command.cmd,
        "sub_cmd": command.sub_cmd,
        "json": command.json,
        "start_line": command.start_line,
        "end_line": command.end_line,
        "flags": list(command.flags),
        "value": list(command.value),
    }
    if with_heredocs:
        view["heredocs"] = [(h.name, h.file_descriptor, h.content) for h in command.heredocs]
        if not command.heredocs:
            view["original"] = command.original
    return view


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_parser_agrees_with_buildkit(name):
    text = CORPUS[name]
    try:
        expected = dockerfile.parse_string(text)
    except dockerfile.GoParseError:
        with pytest.raises(DockerfileError):
            parse(text)
        return
    nodes = parse(text).nodes
    assert len(nodes) == len(expected)
    for node, command in zip(nodes, expected, strict=True):
        assert lamina_view(node) == buildkit_view(command, node.trigger is None)
