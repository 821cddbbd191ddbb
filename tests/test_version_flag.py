"""``lamina -v``/``--version`` in the shape of ``docker -v``, and ``--help`` showing every flag."""

from __future__ import annotations

import re
import subprocess

import click
import pytest

from tests.conftest import REPO, require_tool

SHAPE = re.compile(r"(\w+) version (\S+), build (\S+)\n")


def _head_commit() -> str:
    git = require_tool("git", "git")
    return subprocess.run([git, "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()[:7]


@pytest.mark.parametrize("flag", ["-v", "--version"])
def test_version_flag_has_docker_s_shape_and_names_the_commit(lamina, flag):
    docker = require_tool("docker", "docker.io")
    theirs = subprocess.run([docker, flag], capture_output=True, text=True)
    assert theirs.returncode == 0 and SHAPE.fullmatch(theirs.stdout), theirs.stdout
    ours = lamina.run(flag)
    match = SHAPE.fullmatch(ours.stdout.decode())
    assert match, ours.stdout
    from lamina import __version__

    assert match.groups() == ("lamina", __version__, _head_commit())


def test_version_flag_works_after_global_flags(lamina, tmp_path):
    assert SHAPE.fullmatch(lamina.out("--debug", "--root", str(tmp_path), "-v"))


def _commands(group: click.Group, ctx: click.Context, path: str):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None:
            continue
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx, info_name=name), f"{path} {name}")


def test_help_of_every_command_lists_every_flag_it_accepts():
    from lamina.cli.main import cli

    root = click.Context(cli, info_name="lamina")
    missing = []
    for path, command in [("lamina", cli), *_commands(cli, root, "lamina")]:
        help_text = command.get_help(click.Context(command, info_name=path))
        for param in command.params:
            if isinstance(param, click.Option):
                missing += [f"{path} {opt}" for opt in param.opts + param.secondary_opts
                            if param.hidden or not re.search(rf"(^|[\s,/]){re.escape(opt)}\b", help_text)]
    assert not missing, missing
    assert "-v, --version" in cli.get_help(root)
