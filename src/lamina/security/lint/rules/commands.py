"""Rules about what RUN lines do: tools that make no sense in a build, cd, sudo, pipes, shells."""

from __future__ import annotations

from collections.abc import Iterator

from lamina.security.lint.model import Step
from lamina.security.lint.registry import LintSettings, rule, simple_rule

_POINTLESS = frozenset({"free", "kill", "mount", "ps", "service", "shutdown", "ssh", "top", "vim"})
NON_POSIX_SHELLS = ("pwsh", "powershell", "cmd")


@simple_rule(
    "DL3001",
    "info",
    "For some bash commands it makes no sense running them in a Docker container like `ssh`, `vim`, "
    "`shutdown`, `service`, `ps`, `free`, `top`, `kill`, `mount`, `ifconfig`",
    onbuild=True,
)
def pointless_command(step: Step) -> bool:
    return step.keyword != "run" or not any(name in _POINTLESS for name in step.shell.names())


@simple_rule("DL3003", "warning", "Use WORKDIR to switch to a directory")
def cd_in_run(step: Step) -> bool:
    return step.keyword != "run" or not step.shell.using("cd")


@simple_rule(
    "DL3004",
    "error",
    "Do not use sudo as it leads to unpredictable behavior. Use a tool like gosu to enforce root",
    onbuild=True,
)
def sudo(step: Step) -> bool:
    return step.keyword != "run" or not step.shell.using("sudo")


@simple_rule(
    "DL3046",
    "warning",
    "`useradd` without flag `-l` and high UID will result in excessively large Image.",
    onbuild=True,
)
def useradd_high_uid(step: Step) -> bool:
    if step.keyword != "run":
        return True
    for command in step.shell.commands:
        if (
            command.name == "useradd"
            and not command.has_any_flag(("l", "no-log-init"))
            and command.has_any_flag(("u", "uid"))
            and any(len(value) > 5 for value in command.flag_values("u"))
        ):
            return False
    return True


@simple_rule(
    "DL3047",
    "info",
    "Avoid use of wget without progress bar. Use `wget --progress=dot:giga <url>`. "
    "Or consider using `-q` or `-nv` (shorthands for `--quiet` or `--no-verbose`).",
    onbuild=True,
)
def wget_progress(step: Step) -> bool:
    if step.keyword != "run":
        return True
    for command in step.shell.commands:
        if command.name != "wget" or command.has_flag("progress"):
            continue
        quiet = command.has_any_flag(("q", "quiet", "o", "output-file", "a", "append-output", "no-verbose"))
        if not quiet and "-nv" not in command.arguments:
            return False
    return True


@rule("DL4001", "warning", "Either use Wget or Curl but not both", onbuild=True)
def curl_and_wget(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    seen: set[str] = set()
    for step in steps:
        if step.keyword == "from":
            seen = set()
        elif step.keyword == "run":
            used = {name for name in step.shell.names() if name in ("curl", "wget")}
            seen |= used
            if used and len(seen) >= 2:
                yield step.line


@simple_rule("DL4005", "warning", "Use SHELL to change the default shell", onbuild=True)
def link_bin_sh(step: Step) -> bool:
    return step.keyword != "run" or not any(c.has_args("ln", ("/bin/sh",)) for c in step.shell.commands)


@rule(
    "DL4006",
    "warning",
    "Set the SHELL option -o pipefail before RUN with a pipe in it. If you are using /bin/sh in an alpine "
    "image or if your shell is symlinked to busybox then consider explicitly setting your SHELL to /bin/ash, "
    "or disable this check",
)
def pipe_without_pipefail(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    pipefail = False
    for step in steps:
        if step.keyword == "from":
            pipefail = False
        elif step.keyword == "shell" and step.node is not None:
            shell_text = " ".join(step.node.args)
            if shell_text.startswith(NON_POSIX_SHELLS):
                pipefail = True
            else:
                pipefail = _sets_pipefail(step)
        elif step.keyword == "run" and not pipefail and step.shell.has_pipes:
            yield step.line


def _sets_pipefail(step: Step) -> bool:
    shells = ("/bin/bash", "/bin/zsh", "/bin/ash", "bash", "zsh", "ash")
    return any(
        command.name in shells and command.has_flag("o") and "pipefail" in command.arguments
        for command in step.shell.commands
    )


@rule("DL3059", "info", "Multiple consecutive `RUN` instructions. Consider consolidation.")
def consecutive_runs(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    previous: tuple[tuple[str, ...], int] | None = None
    for step in steps:
        if step.keyword == "comment":
            continue
        if step.keyword != "run":
            previous = None
            continue
        flags = tuple(sorted(step.flags))
        # ShellCheck's tree holds every simple command twice (as itself and inside its
        # redirection wrapper), and hadolint counts them that way.
        count = 2 * len(step.shell.commands)
        if previous is not None and previous[0] == flags and count <= 2 and previous[1] <= 2:
            yield step.line
        previous = (flags, count)
