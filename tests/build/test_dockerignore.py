""".dockerignore semantics, with moby/patternmatcher's test tables ported as data."""

from __future__ import annotations

import pytest

from lamina.build.dockerignore import (
    IgnorePatternError,
    PatternMatcher,
    go_clean,
    go_match,
    load_ignore_patterns,
    read_ignore_file,
)

# patternmatcher_test.go TestMatches: (pattern, path, excluded)
SINGLE_PATTERN = [
    ("**", "file", True), ("**", "file/", True), ("**/", "file", True), ("**/", "file/", True),
    ("**", "/", True), ("**/", "/", True), ("**", "dir/file", True), ("**/", "dir/file", True),
    ("**", "dir/file/", True), ("**/", "dir/file/", True), ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True), ("dir/**", "dir/file", True), ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True), ("dir/**", "dir/dir2/file/", True), ("**/dir", "dir", True),
    ("**/dir", "dir/file", True), ("**/dir2/*", "dir/dir2/file", True), ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True), ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True), ("**file", "dir/file", True), ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True), ("**/file", "dir/dir/file", True), ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True), ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True), ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True), ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True), ("**/**/*.txt", "file.txt", True), ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True), ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False), ("a/*.txt", "a/file.txt", True), ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False), ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False), ("a[^b-d]e", "aze", True),
    (".*", ".foo", True), (".*", "foo", False), ("abc.def", "abcdef", False), ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False), ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True), ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True), ("abc/**", "abc", False), ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True), ("**/.foo", ".foo", True), ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True), ("a(b)c/def", "a(b)c/xyz", False), ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
]  # fmt: skip

MULTI_PATTERN = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    # the small Matches tests of patternmatcher_test.go
    (["*"], "fileutils.go", True),
    (["*.go"], "fileutils.go", True),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["*.go"], ".", False),
    ([], "/any/path/there", False),
]  # fmt: skip

# Go's filepath.Match table as patternmatcher_test.go carries it: (pattern, name, matches, bad pattern)
GO_MATCH = [
    ("abc", "abc", True, False), ("*", "abc", True, False), ("*c", "abc", True, False), ("a*", "a", True, False),
    ("a*", "abc", True, False), ("a*", "ab/c", True, False), ("a*/b", "abc/b", True, False), ("a*/b", "a/c/b", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False), ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True, False), ("a*b?c*x", "abxbbxdbxebxczzy", False, False),
    ("ab[c]", "abc", True, False), ("ab[b-d]", "abc", True, False), ("ab[e-g]", "abc", False, False),
    ("ab[^c]", "abc", False, False), ("ab[^b-d]", "abc", False, False), ("ab[^e-g]", "abc", True, False),
    ("a\\*b", "a*b", True, False), ("a\\*b", "ab", False, False), ("a?b", "a☺b", True, False),
    ("a[^a]b", "a☺b", True, False), ("a???b", "a☺b", False, False), ("a[^a][^a][^a]b", "a☺b", False, False),
    ("[a-ζ]*", "α", True, False), ("*[a-ζ]", "A", False, False), ("a?b", "a/b", False, False), ("a*b", "a/b", False, False),
    ("[\\]a]", "]", True, False), ("[\\-]", "-", True, False), ("[x\\-]", "x", True, False), ("[x\\-]", "-", True, False),
    ("[x\\-]", "z", False, False), ("[\\-x]", "x", True, False), ("[\\-x]", "-", True, False), ("[\\-x]", "a", False, False),
    ("[]a]", "]", False, True), ("[-]", "-", False, True), ("[x-]", "x", False, True), ("[x-]", "-", False, True),
    ("[x-]", "z", False, True), ("[-x]", "x", False, True), ("[-x]", "-", False, True), ("[-x]", "a", False, True),
    ("\\", "a", False, True), ("[a-b-c]", "a", False, True), ("[", "a", False, True), ("[^", "a", False, True),
    ("[^bc", "a", False, True), ("a[", "a", False, True), ("a[", "ab", False, True), ("*x", "xxx", True, False),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "path", "excluded"), SINGLE_PATTERN)
def test_single_pattern(pattern, path, excluded):
    assert PatternMatcher([pattern]).matches(path) is excluded


@pytest.mark.parametrize(("patterns", "path", "excluded"), MULTI_PATTERN)
def test_pattern_list(patterns, path, excluded):
    assert PatternMatcher(patterns).matches(path) is excluded


@pytest.mark.parametrize(("pattern", "path", "excluded"), SINGLE_PATTERN)
def test_walking_with_parent_results_agrees(pattern, path, excluded):
    matcher = PatternMatcher([pattern])
    parent = None
    parts = go_clean(path).split("/")
    for depth in range(1, len(parts)):
        _, parent = matcher.matches_with_parents("/".join(parts[:depth]), parent)
    assert matcher.matches_with_parents(path, parent)[0] is excluded


@pytest.mark.parametrize(("pattern", "name", "matches", "bad"), GO_MATCH)
def test_go_filepath_match(pattern, name, matches, bad):
    if bad:
        with pytest.raises(ValueError):
            go_match(pattern, name)
        with pytest.raises(IgnorePatternError):
            PatternMatcher([pattern])
    else:
        assert PatternMatcher([pattern]).matches(name) is matches


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [("a*", "ab/c", False), ("*", "a/b", False), ("a/*", "a/b", True), ("[a-c]?", "bz", True), ("\\[", "[", True)],
)
def test_go_match_never_crosses_slashes(pattern, name, matches):
    assert go_match(pattern, name) is matches


def test_single_exclamation_mark_is_an_error():
    with pytest.raises(IgnorePatternError, match='illegal exclusion pattern: "!"'):
        PatternMatcher(["!"])


def test_pattern_valid_for_glob_but_not_regex_fails_on_use():
    matcher = PatternMatcher(["[Local-Only]/"])
    with pytest.raises(IgnorePatternError):
        matcher.matches("x")


def test_exclusion_flag():
    assert PatternMatcher(["docs", "  !docs/README.md"]).exclusions
    assert not PatternMatcher(["docs", ""]).exclusions


def test_read_ignore_file_like_ignorefile_readall():
    content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
    assert read_ignore_file(content) == [
        "test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "!", "!",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "patterns"),
    [
        (b"\xef\xbb\xbf*.pyc\r\n", ["*.pyc"]),
        ("  # not a comment\n", ["# not a comment"]),
        ("a//b/../c/\n./d\n", ["a/c", "d"]),
        ("/\n", ["/"]),
    ],
)
def test_read_ignore_file_details(content, patterns):
    assert read_ignore_file(content) == patterns


def test_dockerfile_specific_ignore_file_wins(tmp_path):
    (tmp_path / ".dockerignore").write_text("context-wide\n")
    (tmp_path / "web.Dockerfile").write_text("FROM a\n")
    assert load_ignore_patterns(tmp_path, tmp_path / "web.Dockerfile") == ["context-wide"]
    (tmp_path / "web.Dockerfile.dockerignore").write_text("web-only\n")
    assert load_ignore_patterns(tmp_path, tmp_path / "web.Dockerfile") == ["web-only"]
    assert load_ignore_patterns(tmp_path) == ["context-wide"]


def test_no_ignore_file_means_no_patterns(tmp_path):
    assert load_ignore_patterns(tmp_path) == []
