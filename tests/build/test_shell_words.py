"""Shell-word expansion: BuildKit's envVarTest and wordsTest read in place, plus its match tables."""

from __future__ import annotations

import pytest
from buildkit_testdata import SHELL_CASES, require

from lamina.build.dockerfile.shell_words import (
    ShellLex,
    ShellWordError,
    expand_with_matches,
    go_quote,
    process_word,
    process_words,
    shell_pattern_regex,
)

# The environment BuildKit's shell/lex_test.go sets up for envVarTest.
ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def env_var_cases() -> list[tuple[int, str, str]]:
    """(line, source, expected) of envVarTest; W lines are Windows-only ($pwd == $PWD there)."""
    path = SHELL_CASES / "envVarTest"
    if not path.exists():
        return []
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#") or not line.strip():
            continue
        platform, source, expected = (part.strip() for part in line.split("|"))
        assert platform in ("A", "U", "W"), f"envVarTest:{number}: bad platform tag"
        if platform != "W":
            cases.append((number, source, expected))
    return cases


def words_cases() -> list[tuple[int, str, list[str], dict[str, str]]]:
    """(line, source, expected words, environment so far) of wordsTest; ``ENV k=v`` lines add to it."""
    path = SHELL_CASES / "wordsTest"
    if not path.exists():
        return []
    env: dict[str, str] = {}
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#"):
            continue
        if line.startswith("ENV "):
            key, _, value = line[3:].lstrip(" ").partition("=")
            env[key] = value
            continue
        source, expected = line.split("|")
        cases.append((number, source.strip(), expected.lstrip(" ").split(","), dict(env)))
    return cases


ENV_VAR_CASES = env_var_cases()
WORDS_CASES = words_cases()


def test_shell_conformance_data_is_present():
    require(SHELL_CASES / "envVarTest")
    require(SHELL_CASES / "wordsTest")
    assert len(ENV_VAR_CASES) > 200 and len(WORDS_CASES) > 20


@pytest.mark.parametrize(("line", "source", "expected"), ENV_VAR_CASES, ids=[str(c[0]) for c in ENV_VAR_CASES])
def test_env_var_test_line(line, source, expected):
    if expected == "error":
        with pytest.raises(ShellWordError):
            process_word(source, ENV_VAR_TEST_ENV)
    else:
        assert process_word(source, ENV_VAR_TEST_ENV) == expected


@pytest.mark.parametrize(("line", "source", "expected", "env"), WORDS_CASES, ids=[str(c[0]) for c in WORDS_CASES])
def test_words_test_line(line, source, expected, env):
    try:
        words = process_words(source, env)
    except ShellWordError:
        words = ["error"]
    assert words == expected


# BuildKit's TestProcessWithMatches table: (word, env, result or None for an error, used, unset).
MATCH_CASES = [
    ("x", {"DUMMY": "dummy"}, "x", set(), set()),
    ("x ${UNUSED}", {"DUMMY": "dummy"}, "x ", set(), {"UNUSED"}),
    ("x ${FOO}", {"FOO": "y"}, "x y", {"FOO"}, set()),
    ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx  ccc", {"FOO", "BAR"}, {"BAZ"}),
    ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx bbb ccc", {"FOO", "BAR"}, {"BAZ"}),
    ("${FOO:-}", {"FOO": "xxx", "BAR": ""}, "xxx", {"FOO"}, set()),
    ("${FOO:-}", {}, "", set(), {"FOO"}),
    ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa bbb ", {"FOO", "BAR"}, {"BAZ"}),
    ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa  ", {"FOO", "BAR"}, {"BAZ"}),
    ("${FOO?aaa}", {"FOO": "xxx", "BAR": ""}, "xxx", {"FOO"}, set()),
    ("${BAR?bbb}", {"FOO": "xxx", "BAR": ""}, "", {"BAR"}, set()),
    ("${BAZ?ccc}", {"FOO": "xxx", "BAR": ""}, None, set(), set()),
    ("${FOO:?aaa}", {"FOO": "xxx", "BAR": ""}, "xxx", {"FOO"}, set()),
    ("${BAR:?bbb}", {"FOO": "xxx", "BAR": ""}, None, set(), set()),
    ("${BAZ:?ccc}", {"FOO": "xxx", "BAR": ""}, None, set(), set()),
    ("${BAZ:?}", {"FOO": "xxx", "BAR": ""}, None, set(), set()),
    ("${FOO=aaa}", {"FOO": "xxx", "BAR": ""}, None, set(), set()),
    ("${FOO=:aaa}", {"FOO": "xxx", "BAR": ""}, None, set(), set()),
    ("${FOO=}", {}, None, set(), set()),
    ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x", {"FOO"}, set()),
    ("${FOO%%\\**}", {"FOO": "xx**"}, "xx", {"FOO"}, set()),
    ("${FOO#*x*y}", {"FOO": "xxyy"}, "y", {"FOO"}, set()),
    ("${FOO#*}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy", {"FOO", "BAR"}, set()),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy", {"FOO", "BAR"}, set()),
    ("${FOO#}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO##*x}", {"FOO": "xxyy"}, "yy", {"FOO"}, set()),
    ("${FOO##}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO#?\\?}", {"FOO": "???y"}, "?y", {"FOO"}, set()),
    ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy.", {"FOO"}, {"ABC"}),
    ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a", {"FOO"}, set()),
    ("${FOO%}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO%%$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy", {"FOO", "BAR"}, set()),
    ("${FOO:#}", {}, None, set(), set()),
    ("${FOO:##}", {}, None, set(), set()),
    ("${FOO:%}", {}, None, set(), set()),
    ("${FOO:%%}", {}, None, set(), set()),
    (
        "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
        {"FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"},
        "/foo.*/*.txt - /foo..*.txt",
        {"FOO", "NEEDLE"},
        set(),
    ),
    (
        "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
        {"FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"},
        "/tmp/bar.txt - /bar.txt",
        {"FOO", "NEEDLE"},
        set(),
    ),
    (
        "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
        {"FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "REPLACEMENT": "/"},
        "/foo/b/c.txt - /foo/c.txt",
        {"FOO", "NEEDLE", "REPLACEMENT"},
        set(),
    ),
    (
        "${FOO/$NEEDLE/$REPLACEMENT}",
        {"FOO": "http://google.de", "NEEDLE": "http://", "REPLACEMENT": "https://"},
        "https://google.de",
        {"FOO", "NEEDLE", "REPLACEMENT"},
        set(),
    ),
    ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt", {"FOO"}, set()),
    ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy", {"FOO", "BAR"}, set()),
    ("${FOO//ww}", {"FOO": "xxyy"}, None, set(), set()),
    ("${FOO//}", {"FOO": "xxyy"}, None, set(), set()),
    ("${FOO///}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO///}", {}, "", set(), {"FOO"}),
    # the release-file-name idiom from TestProcessWithMatchesPlatform
    (
        "x-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tgz",
        {"V": "1", "OS": "linux", "ARCH": "arm", "VARIANT": "v7"},
        "x-1.linux-arm-v7.tgz",
        {"V", "OS", "ARCH", "VARIANT"},
        set(),
    ),
    (
        "x-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tgz",
        {"V": "1", "OS": "linux", "ARCH": "arm64"},
        "x-1.linux-arm64.tgz",
        {"V", "OS", "ARCH"},
        {"VARIANT"},
    ),
]


@pytest.mark.parametrize(("word", "env", "expected", "used", "unset"), MATCH_CASES, ids=[c[0] for c in MATCH_CASES])
def test_expansion_reports_variables(word, env, expected, used, unset):
    if expected is None:
        with pytest.raises(ShellWordError):
            expand_with_matches(word, env)
        return
    expansion = expand_with_matches(word, env)
    assert (expansion.result, expansion.used, expansion.unset) == (expected, used, unset)


@pytest.mark.parametrize(
    ("word", "env", "message"),
    [
        ("${VAR:?message here$ARG}", {"VAR": "", "ARG": "x"}, "VAR: message herex"),
        ("${VAR?message here$ARG}", {"ARG": "x"}, "VAR: message herex"),
        ("${VAR?}", {}, "VAR: is not allowed to be unset"),
        ("${VAR:?}", {"VAR": ""}, "VAR: is not allowed to be empty"),
    ],
)
def test_mandatory_variable_errors_carry_the_message(word, env, message):
    with pytest.raises(ShellWordError, match=message):
        process_word(word, env)


def test_error_names_the_word():
    with pytest.raises(ShellWordError, match=r'^failed to process "a\$\{b": syntax error: missing'):
        process_word("a${b", {})


def test_backtick_escape_token():
    assert process_word("a`$b c`\\d", {"b": "x"}, escape="`") == "a$b c\\d"
    assert process_word('"`"x"', {}, escape="`") == '"x'


def test_replace_all_uses_go_template_dollars():
    # the replacement is expanded first, so a "$" reaches Go's template only from a variable or \\$
    assert process_word("${V//o/$R}", {"V": "foo", "R": "<$0$$>"}) == "f<o$><o$>"
    assert process_word("${V/o/$R}", {"V": "foo", "R": "<$0>"}) == "f<$0>o"
    assert process_word("${V//o/\\$0}", {"V": "foo"}) == "f\\o\\o"


def test_raw_lexer_keeps_text_for_heredoc_detection():
    lex = ShellLex(raw_quotes=True, raw_escapes=True, skip_unset=True)
    assert lex.expand("RUN <<'EOF' $A ${B:-c} \\x", {}).words == ["RUN", "<<'EOF'", "$A", "${B:-c}", "\\x"]


@pytest.mark.parametrize(
    ("pattern", "regex"),
    [
        ("*", "^.*"),
        ("?", "^."),
        ("\\*", "^\\*"),
        ("(()[]{\\}^$.\\*\\?|\\\\", "^\\(\\(\\)\\[\\]\\{\\}\\^\\$\\.\\*\\?\\|\\\\"),
    ],
)
def test_shell_pattern_translation(pattern, regex):
    assert shell_pattern_regex(pattern, greedy=True, anchored=True).pattern == regex


@pytest.mark.parametrize("pattern", ["\\", "\\x", "\\\\\\"])
def test_shell_pattern_rejects_bad_escapes(pattern):
    with pytest.raises(ShellWordError):
        shell_pattern_regex(pattern, greedy=True, anchored=True)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [("a", '"a"'), ('"\\', '"\\"\\\\"'), ("\x00\n", '"\\x00\\n"'), ("♥", '"♥"'), ("\u00a0", '"\\u00a0"')],
)
def test_go_quote(text, quoted):
    assert go_quote(text) == quoted
