"""``lamina -v`` / ``--version``: one line in the shape of ``docker -v``.

docker prints ``Docker version X, build <short commit>``; scripts that parse it expect that shape,
so lamina prints ``lamina version X, build <short commit or unknown>``. The commit is read from
the git directory of a source checkout without running git (the flag must stay instant); an
installed wheel has none and says ``unknown``.
"""

from __future__ import annotations

import re
from pathlib import Path

_COMMIT = re.compile(r"[0-9a-f]{40}")


def version_line() -> str:
    """The line ``lamina -v`` prints (without its newline)."""
    from lamina import __version__

    return f"lamina version {__version__}, build {source_commit() or 'unknown'}"


def source_commit() -> str | None:
    """The short commit of the checkout this package runs from, or None when it is not one."""
    checkout = Path(__file__).resolve().parents[3]
    if not (checkout / "src" / "lamina" / "__init__.py").is_file():
        return None
    try:
        git_dir = _git_dir(checkout)
        if git_dir is None:
            return None
        head = (git_dir / "HEAD").read_text().strip()
        commit = _resolve(git_dir, head[5:].strip()) if head.startswith("ref:") else head
    except OSError:
        return None
    return commit[:7] if commit and _COMMIT.fullmatch(commit) else None


def _git_dir(checkout: Path) -> Path | None:
    """``.git`` is a directory, or a file ``gitdir: PATH`` in a worktree or submodule."""
    dot_git = checkout / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        text = dot_git.read_text().strip()
        if text.startswith("gitdir:"):
            target = Path(text[7:].strip())
            return target if target.is_absolute() else checkout / target
    return None


def _resolve(git_dir: Path, ref: str) -> str | None:
    """A branch's commit: its loose ref file, else its line in packed-refs (in the common dir)."""
    common = git_dir
    common_file = git_dir / "commondir"
    if common_file.is_file():
        common = git_dir / common_file.read_text().strip()
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            return loose.read_text().strip()
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            commit, _, name = line.partition(" ")
            if name == ref:
                return commit
    return None
