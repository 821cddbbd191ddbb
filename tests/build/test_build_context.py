"""Walking the build context and resolving COPY sources without ever leaving it."""

from __future__ import annotations

import os

import pytest

from lamina.build.context import ContextError, resolve_in_context, resolve_sources, walk_context
from lamina.build.dockerignore import PatternMatcher


@pytest.fixture
def context(tmp_path):
    """A small context: sources, docs, a vendored tree and symlinks pointing in and out."""
    root = tmp_path / "ctx"
    for path in ["app/main.go", "app/util.go", "app/README.md", "docs/a.md", "docs/keep/b.md", "vendor/x/y.go", "top.txt"]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(path)
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink("app", root / "link-to-app")
    os.symlink("/", root / "link-to-root")
    os.symlink("../outside.txt", root / "link-out")
    os.symlink("/top.txt", root / "abs-link")
    return root


def walked(root, patterns=None):
    matcher = PatternMatcher(patterns) if patterns is not None else None
    return [path for path, _ in walk_context(root, matcher)]


def test_walk_lists_everything_in_lexical_order_without_following_symlinks(context):
    assert walked(context) == [
        "abs-link", "app", "app/README.md", "app/main.go", "app/util.go", "docs", "docs/a.md", "docs/keep",
        "docs/keep/b.md", "link-out", "link-to-app", "link-to-root", "top.txt", "vendor", "vendor/x", "vendor/x/y.go",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("patterns", "absent", "present"),
    [
        (["vendor"], ["vendor", "vendor/x/y.go"], ["app/main.go"]),
        (["**/*.md"], ["app/README.md", "docs/a.md", "docs/keep/b.md"], ["docs", "app/main.go"]),
        (["docs", "!docs/keep"], ["docs", "docs/a.md"], ["docs/keep", "docs/keep/b.md"]),
        (["docs", "!docs/keep/b.md"], ["docs/a.md", "docs/keep"], ["docs/keep/b.md"]),
        (["*", "!app/*.go"], ["top.txt", "app", "app/README.md"], ["app/main.go", "app/util.go"]),
        (["app/*.go", "!app/main.go", "app/main.go"], ["app/main.go", "app/util.go"], ["app", "app/README.md"]),
    ],
)
def test_walk_honours_dockerignore(context, patterns, absent, present):
    paths = walked(context, patterns)
    assert not set(absent) & set(paths)
    assert set(present) <= set(paths)


def test_walk_gives_lstat_results(context):
    infos = dict(walk_context(context))
    assert infos["link-to-root"].st_mode & 0o170000 == 0o120000
    assert infos["top.txt"].st_size == len("top.txt")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("top.txt", ["top.txt"]),
        ("/top.txt", ["top.txt"]),
        ("./app/../top.txt", ["top.txt"]),
        ("../../top.txt", ["top.txt"]),
        (".", ["."]),
        ("/", ["."]),
        ("app/*.go", ["app/main.go", "app/util.go"]),
        ("*/*.md", ["app/README.md", "docs/a.md"]),
        ("app/[mu]*", ["app/main.go", "app/util.go"]),
        ("d?cs", ["docs"]),
        # a symlink named as the source is followed, inside the context
        ("link-to-app", ["app"]),
        ("link-to-app/main.go", ["app/main.go"]),
        ("link-to-root/top.txt", ["top.txt"]),
        ("abs-link", ["top.txt"]),
    ],
)
def test_resolve_sources(context, source, expected):
    assert resolve_sources(context, source) == expected


@pytest.mark.parametrize("source", ["missing", "link-out", "nothing*", "app/*.rs"])
def test_missing_sources_are_errors(context, source):
    with pytest.raises(ContextError):
        resolve_sources(context, source)


def test_excluded_sources_are_invisible(context):
    matcher = PatternMatcher(["**/*.md", "top.txt"])
    assert resolve_sources(context, "docs/*", matcher) == ["docs/keep"]
    with pytest.raises(ContextError):
        resolve_sources(context, "top.txt", matcher)


def test_symlink_loops_are_reported(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(ContextError, match="too many levels"):
        resolve_in_context(tmp_path, "a")


def test_dotdot_in_a_link_target_stays_inside(context):
    os.symlink("../../../../top.txt", context / "app" / "up")
    assert resolve_in_context(context, "app/up") == "top.txt"
