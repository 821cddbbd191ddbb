"""Image-config checks, under the Dockerfile check IDs Trivy reports (DS-xxxx) where it has one.

Each check reads the implied Dockerfile (history.py) and the run config. The IDs, titles and
severities are Trivy's, so ignore files and policies written for its reports apply; messages and
resolutions are lamina's own words. DS-0004 (SSH port) also reads the config's ExposedPorts:
BuildKit does not record EXPOSE in history, so the history alone would miss it. Checks Trivy
does not have are LAMINA-xxxx.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

from lamina.security.misconfig.history import Instruction


class Misconfiguration(msgspec.Struct, frozen=True, kw_only=True):
    """One failed check (Trivy's ``Misconfigurations[]`` entry)."""

    id: str
    title: str
    description: str
    message: str
    resolution: str
    severity: str
    start_line: int = 0  # 0: the image as a whole, no instruction to point at
    end_line: int = 0
    code: str = ""  # the instruction's line


Finding = tuple[str, Instruction | None]  # (message, the instruction at fault)


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: str
    description: str
    resolution: str
    run: Callable[[list[Instruction], dict], Iterable[Finding]]


def evaluate(instructions: list[Instruction], run_config: dict) -> tuple[list[Misconfiguration], int]:
    """Every failure of every check, and how many checks passed."""
    from lamina.security.secrets.scanner import mask_secrets

    failures: list[Misconfiguration] = []
    passed = 0
    for check in CHECKS:
        found = list(check.run(instructions, run_config))
        if not found:
            passed += 1
        for message, cause in found:
            failures.append(Misconfiguration(
                id=check.id, title=check.title, description=check.description, message=mask_secrets(message),
                resolution=check.resolution, severity=check.severity,
                start_line=cause.line if cause else 0, end_line=cause.line if cause else 0,
                code=mask_secrets(cause.text) if cause else ""))
    failures.sort(key=lambda failure: (failure.id, failure.start_line))
    return failures, passed


def _of(instructions: list[Instruction], command: str) -> list[Instruction]:
    return [instruction for instruction in instructions if instruction.command == command]


def _shell(run: Instruction) -> str:
    return " ".join(run.values)


def _root_user(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    users = [user for user in _of(instructions, "USER") if user.values]
    if not users:
        yield "The image names no user: its processes run as root; add a USER with a non-root user", None
    elif re.match(r"^(?:root|0)(?::.+)?$", users[-1].values[0]):
        yield "The last USER is root", users[-1]


def _ssh_port(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    ports = run_config.get("ExposedPorts") or {}
    if any(str(port).split("/")[0] == "22" for port in ports):
        yield "Port 22 (SSH) is exposed", None


def _add_instead_of_copy(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    for add in _of(instructions, "ADD"):
        words = " ".join(add.values)
        if any(marker in words for marker in (".tar", "http://", "https://", "git@")):
            continue
        values = add.values
        if values and values[0].startswith(("file:", "multi:", "dir:")) and (
                len(values) == 2 or len(values) == 3 and values[1] == "in"):
            continue  # the legacy builder's record of a base image's rootfs
        yield f"Use 'COPY {words}' instead of 'ADD {words}': ADD also unpacks archives and fetches URLs", add


def _add_url(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    for add in _of(instructions, "ADD"):
        urls = [word for word in add.values[:-1] if word.startswith(("http://", "https://"))]
        if urls and "--checksum=" not in add.text:
            yield f"ADD downloads {urls[0]} at build time without --checksum: nothing verifies what arrives", add


def _sudo(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    for run in _of(instructions, "RUN"):
        if len(run.values) == 1 and any(re.match(r"^\s*sudo", part) for part in run.values[0].split("&&")):
            yield "RUN uses sudo", run


def _cd(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    for run in _of(instructions, "RUN"):
        parts = [part for value in run.values for part in re.split(r"\s*&&\s*", value)]
        if any(part.startswith("cd ") for part in parts):
            yield f"RUN changes directory with cd: '{_shell(run)}'; use WORKDIR", run


def _uses(run: Instruction, tool: str) -> bool:
    if len(run.values) > 1:
        return run.values[0] == tool
    return any(re.match(rf"^\s*{tool}", part) and "install " not in part
               for part in re.split(r"\s*&&\s*", run.values[0] if run.values else ""))


def _wget_and_curl(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    runs = _of(instructions, "RUN")
    wget = [run for run in runs if _uses(run, "wget")]
    if wget and any(_uses(run, "curl") for run in runs):
        yield "Both wget and curl are used; one of them is enough", wget[0]


_APT_INSTALL = re.compile(r"apt-get (-(-)?[a-zA-Z]+ *)*install(-(-)?[a-zA-Z]+ *)*")
_FLAGS = r"\s*(-(-)?[a-zA-Z]+\s*)*"
_PACKAGES = r"([a-z\d][a-z\d+\-.]+(?:=[\w.+\-~:]+)?\s*)*"


def _apt_flag_patterns(flag: str) -> tuple[re.Pattern[str], ...]:
    combined = f"{_FLAGS}({flag}){_FLAGS}"
    return (re.compile(f"apt-get{combined}install"), re.compile(f"apt-get{_FLAGS}install{combined}"),
            re.compile(f"apt-get{_FLAGS}install{_FLAGS}{_PACKAGES}{combined}"))


_ASSUME_YES = _apt_flag_patterns(r"(-([a-xzA-XZ])*y([a-xzA-XZ])*)|(--yes)|(--assume-yes)")
_NO_RECOMMENDS = _apt_flag_patterns(r"--no-install-recommends")


def _apt_missing(patterns: tuple[re.Pattern[str], ...], message: str) -> Callable[..., Iterable[Finding]]:
    def check(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
        for run in _of(instructions, "RUN"):
            command = _shell(run)
            if _APT_INSTALL.search(command) and not any(pattern.search(command) for pattern in patterns):
                yield message.format(command), run
    return check


def _dist_upgrade(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    for run in _of(instructions, "RUN"):
        if run.values and re.search(r"apt-get .* dist-upgrade", run.values[0]):
            yield "RUN uses 'apt-get dist-upgrade'", run


_MANAGERS = (("apt-get", "apt"), ("yum",), ("apk",), ("dnf",), ("zypper",))
_UPDATES = {"update", "up"}
_INSTALLS = {"upgrade", "install", "source-install", "reinstall", "groupinstall", "localinstall", "add"}


def _update_alone(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    for run in _of(instructions, "RUN"):
        commands = [command.split() for command in re.split(r"&&|\|\||;|\|", _shell(run))]
        for manager in _MANAGERS:
            updates = [n for n, words in enumerate(commands) if _verb_after(words, manager, _UPDATES)]
            installs = [n for n, words in enumerate(commands) if _verb_after(words, manager, _INSTALLS)]
            if updates and not any(update < install for update in updates for install in installs):
                yield "A package index update is not followed by an install in the same RUN", run
                break


def _verb_after(words: list[str], manager: tuple[str, ...], verbs: set[str]) -> bool:
    return any(word in manager and any(later in verbs for later in words[index + 1:])
               for index, word in enumerate(words))


def _apk_no_cache(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    for run in _of(instructions, "RUN"):
        for part in re.split(r"\s*&&\s*", _shell(run)):
            if re.search(r"\bapk\b.*\badd\b", part) and "--no-cache" not in part:
                yield "'apk add' without --no-cache keeps the package index in the image", run
                break


_SECRET_ENVS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_ID",
                "AZURE_CLIENT_SECRET", "GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN",
                "OPENAI_API_KEY", "HF_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN", "DOCKERHUB_PASSWORD", "FIREBASE_TOKEN",
                "CI_DEPLOY_PASSWORD", "GOOGLE_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "HEROKU_API_KEY"}
_SECRET_FILE_ENVS = {"AWS_CONFIG_FILE", "HF_TOKEN_PATH", "GOOGLE_APPLICATION_CREDENTIALS"}
_SECRET_WORDS = re.compile(r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret"
                           r"|token|usr|psw)(?:_|$)")
_PUBLIC = re.compile(r"(?i)(?:_|^)public(?:_|$)")


def _is_secret_name(name: str) -> bool:
    if name in _SECRET_ENVS or any(name.startswith(prefix) and name[len(prefix):] in _SECRET_ENVS
                                   for prefix in ("VITE_", "REACT_APP_")):
        return True
    return name not in _SECRET_FILE_ENVS and bool(_SECRET_WORDS.search(name)) and not _PUBLIC.search(name)


def _secret_env(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    for instruction in instructions:
        if instruction.command == "ENV" and len(instruction.values) % 3 == 0:
            names = instruction.values[0::3]
        elif instruction.command == "ARG":
            names = tuple(value.split("=")[0] for value in instruction.values if value.count("=") <= 1)
        else:
            continue
        for name in names:
            if _is_secret_name(name):
                yield f'Possible exposure of secret env "{name}" in {instruction.command}', instruction


def _no_healthcheck(instructions: list[Instruction], run_config: dict) -> Iterable[Finding]:
    if not _of(instructions, "HEALTHCHECK"):
        yield "The image has no HEALTHCHECK", None


CHECKS: tuple[Check, ...] = (
    Check("DS-0002", "Image user should not be 'root'", "HIGH",
          "A container that runs as root can do more harm if it is broken into.",
          "Add 'USER <non-root user>' to the Dockerfile", _root_user),
    Check("DS-0004", "Port 22 exposed", "MEDIUM",
          "An exposed SSH port invites remote logins into the container.",
          "Remove port 22 from EXPOSE", _ssh_port),
    Check("DS-0005", "ADD instead of COPY", "LOW",
          "ADD unpacks archives and downloads URLs; COPY only copies, which is what a local file needs.",
          "Use COPY instead of ADD", _add_instead_of_copy),
    Check("LAMINA-0001", "ADD of a remote URL", "MEDIUM",
          "ADD fetches the URL whenever the step runs; what it gets is whatever the server sends then.",
          "Download with a pinned checksum (ADD --checksum=sha256:…) or COPY a vetted file", _add_url),
    Check("DS-0010", "RUN using 'sudo'", "CRITICAL",
          "sudo in a build step behaves unpredictably (TTY, environment, signals).",
          "Run the step as the right USER instead of sudo", _sudo),
    Check("DS-0013", "'RUN cd ...' to change directory", "MEDIUM",
          "Directory changes inside RUN are hard to follow; WORKDIR says it once.",
          "Use WORKDIR to change directory", _cd),
    Check("DS-0014", "RUN using 'wget' and 'curl'", "LOW",
          "wget and curl do the same job; one of them is dead weight in the image.",
          "Use either wget or curl", _wget_and_curl),
    Check("DS-0017", "'RUN <package-manager> update' instruction alone", "HIGH",
          "An index update in its own layer is cached and goes stale; later installs then fetch old versions.",
          "Update and install in the same RUN", _update_alone),
    Check("DS-0021", "'apt-get' missing '-y' to avoid manual input", "HIGH",
          "Without -y, apt-get waits for an answer no one can give during a build.",
          "Add -y to apt-get install", _apt_missing(_ASSUME_YES, "apt-get install without -y: '{}'")),
    Check("DS-0024", "'apt-get dist-upgrade' used", "HIGH",
          "dist-upgrade changes the base distribution's packages beyond what the base image pins.",
          "Use apt-get upgrade for fixes, or a newer base image", _dist_upgrade),
    Check("DS-0025", "'apk add' is missing '--no-cache'", "HIGH",
          "Without --no-cache, apk keeps its index in the image.",
          "Add --no-cache to apk add", _apk_no_cache),
    Check("DS-0026", "No HEALTHCHECK defined", "LOW",
          "Without a HEALTHCHECK, a hung container looks healthy to its orchestrator.",
          "Add a HEALTHCHECK instruction", _no_healthcheck),
    Check("DS-0029", "'apt-get' missing '--no-install-recommends'", "HIGH",
          "Recommended packages are installed by default and grow the image and its attack surface.",
          "Add --no-install-recommends to apt-get install",
          _apt_missing(_NO_RECOMMENDS, "apt-get install without --no-install-recommends: '{}'")),
    Check("DS-0031", "Secrets passed via `build-args` or envs or copied secret files", "CRITICAL",
          "ENV and ARG values are stored in the image config and history for anyone who pulls it.",
          "Use a secret mount at build time, a volume or runtime environment at run time", _secret_env),
)
