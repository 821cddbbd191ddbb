"""Every command README.md and docs/*.md show parses: lamina's subcommands and flags exist,
other programs are on PATH or in the repository (see doc_commands.py for what is read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.doc_commands import DocCommand, _lines_of_blocks, _split, check_lamina, doc_commands, problem

COMMANDS = doc_commands()


def test_the_docs_commands_are_found():
    lamina_lines = [command for command in COMMANDS if command.words[0] == "lamina"]
    assert len(lamina_lines) >= 100, len(lamina_lines)
    readme = {" ".join(command.words) for command in COMMANDS if command.where.startswith("README.md:")}
    assert "lamina push localhost:5050/myapp:v1.2" in readme  # one of the Use block's lines
    assert "docker-registry serve /tmp/registry/config.yml" in readme  # after a heredoc, which is skipped
    assert not any(word.startswith("rootdirectory") for command in COMMANDS for word in command.words)


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.where} {' '.join(c.words)[:60]}" for c in COMMANDS])
def test_doc_command_parses(command: DocCommand):
    assert problem(command) is None, f"{command}: {problem(command)}"


@pytest.mark.parametrize(("words", "complaint"), [
    (["build", "--no-such-flag", "."], "No such option '--no-such-flag'"),
    (["frobnicate", "x"], "no such command 'frobnicate'"),
    (["image", "frob"], "lamina image: no such command 'frob'"),
    (["run", "-ix", "busybox"], "No such option '-x'"),
    (["build", "-t"], "Option '-t' requires an argument"),
    (["--no-global", "images"], "No such option '--no-global'"),
])
def test_the_check_refuses_what_lamina_does_not_have(words, complaint):
    assert complaint in (check_lamina(words) or "")


def test_commands_after_the_image_are_the_containers(tmp_path: Path):
    assert check_lamina(["run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "date"]) is None
    assert check_lamina(["--root", "/somewhere", "system", "prune", "-f"]) is None


def test_blocks_are_read_as_a_shell_reads_them(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        "text `lamina images -q` more\n"
        "```sh\n"
        "A=1 lamina build -t x \\\n"
        "  --no-cache ctx   # a comment\n"
        "cat > f <<'EOF'\n"
        "lamina not-a-command\n"
        "EOF\n"
        "lamina save x | docker load && lamina images; lamina info &\n"
        "```\n"
        "```console\n"
        "$ lamina ps -a\n"
        "lamina output line\n"
        "```\n"
        "```python\n"
        "lamina.Client()\n"
        "```\n")
    lines = _lines_of_blocks(page)
    assert [number for number, _ in lines] == [3, 5, 8, 11]
    words = [w for _, text in lines for w in _split(text)]
    assert words == [["lamina", "build", "-t", "x", "--no-cache", "ctx"], ["cat"],
                     ["lamina", "save", "x"], ["docker", "load"], ["lamina", "images"], ["lamina", "info"],
                     ["lamina", "ps", "-a"]]
    assert problem(DocCommand("page.md:1", ("no-such-program-here", "x"))) == "no-such-program-here: not on PATH"
    assert "no such script" in problem(DocCommand("page.md:1", (".venv/bin/python", "bench/no_such.py")))
