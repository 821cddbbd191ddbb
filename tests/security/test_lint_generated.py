"""Generated Dockerfiles, linted by lamina and by hadolint: the findings must be equal.

Two generators: shell-heavy RUN lines (below) and the other instructions (ENV/ARG/LABEL/USER/
EXPOSE/COPY/ADD/WORKDIR/CMD…, further down).

A seeded generator combines package-manager commands, flags, quoting, expansions, command
substitutions, backticks, process substitutions, pipelines, lists, if/case/while/for, functions,
prefixes (exec, command, VAR=…), redirections and cache mounts into RUN lines, across stages
with ENV, SHELL, USER, COPY, ONBUILD and WORKDIR. Each seed is one test; hadolint runs once.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lamina.security.lint import lint_text
from tests.security.lint_oracle import as_keys, hadolint_json

SEEDS = range(120)

_COMMANDS = [
    "apt-get install -y curl", "apt-get -y install --no-install-recommends a=1", "apt-get update",
    "rm -rf /var/lib/apt/lists/*", "apk add --no-cache b=2", "apk add c", "apk add --virtual .d e=1 f",
    "pip install d", "pip install --no-cache-dir e==1", "python -m pip install f", "pip3 install -r r.txt",
    "npm install g", "npm install h@1", "npm install @s/p", "yarn install", "yarn cache clean", "gem install i",
    "gem install j:1", "go install j@v1", "go install k@latest", "go get k", "go run ./x y", "cd /tmp", "sudo ls",
    "wget -q http://x", "wget http://y", "curl -fsSL http://z", "ln -s /bin/bash /bin/sh", "useradd -u 123456 u",
    "useradd -l -u 1234567 v", "yum install -y l", "yum install m-1.2", "yum clean all", "dnf install n",
    "dnf install -y o-2.0 && dnf clean all", "microdnf install p", "zypper in q", "zypper -n install r=1",
    "zypper clean", "echo $X", "ls -l | grep x", "tar -xzf /a.tar.gz", "unzip b.zip", "service x start", "ps aux",
    "exec sudo x", "command -v foo", "X=$(uname -r) env", 'echo "$(id -u)"', "true", "[ -d /x ]", "set -eux",
    "ssh host", "apt install s", "aptitude update", "top -b",
]
_WORDS = ["'quoted arg'", '"dq $HOME"', "plain", "$VAR", "${V:-d}", "`date`", "$(date +%s)", "a\\ b", "x*",
          "~/p", "--flag=v", "-abc", "2>&1", "> /dev/null", "<<< 'here'"]  # fmt: skip
_JOINS = [" && ", " || ", "; ", " | ", " & ", " \\\n    && "]


def _simple(rng: random.Random) -> str:
    command = rng.choice(_COMMANDS)
    for _ in range(rng.randint(0, 2)):
        command += " " + rng.choice(_WORDS)
    prefix = rng.random()
    if prefix < 0.05:
        command = "FOO=1 " + command
    elif prefix < 0.08:
        command = "exec " + command
    elif prefix < 0.1:
        command = "command " + command
    return command


def _script(rng: random.Random, depth: int = 0) -> str:
    shape = rng.random() if depth < 2 else 1.0
    inner = _script(rng, depth + 1) if shape < 0.6 else ""
    if shape < 0.08:
        return f'echo "$({inner})"'
    if shape < 0.14:
        return f"{{ {inner}; }}"
    if shape < 0.22:
        return f"if {_simple(rng)}; then {inner}; elif true; then {_simple(rng)}; else {_simple(rng)}; fi"
    if shape < 0.27:
        return f"case $x in a) {_simple(rng)} ;; b|c) {_simple(rng)} ;; esac"
    if shape < 0.32:
        return f"for i in 1 2; do {inner}; done"
    if shape < 0.37:
        return f"fn() {{ {_simple(rng)}; }}; fn"
    if shape < 0.42:
        return f"diff <({_simple(rng)}) <({_simple(rng)})"
    if shape < 0.47:
        return f"echo `{_simple(rng)}`"
    if shape < 0.5:
        return f"({inner})"
    script = _simple(rng)
    for _ in range(rng.randint(0, 3)):
        script += rng.choice(_JOINS) + _simple(rng)
    return script


def generated_dockerfile(seed: int) -> str:
    rng = random.Random(seed)
    lines: list[str] = []
    for stage in range(rng.randint(1, 3)):
        image = rng.choice(["debian:12", "alpine:3.19", "s0", "debian", "ubuntu:latest", "fedora:39"])
        lines.append(f"FROM {image}" + (f" AS s{stage}" if rng.random() < 0.5 else ""))
        for _ in range(rng.randint(1, 8)):
            kind = rng.random()
            if kind < 0.65:
                mount = rng.choice(["--mount=type=cache,target=/var/cache/apt ",
                                    "--mount=type=cache,target=/root/.cache/pip ", "--mount=type=tmpfs,target=/x "])
                lines.append("RUN " + (mount if rng.random() < 0.15 else "") + _script(rng))
            elif kind < 0.7:
                lines.append(rng.choice(["COPY a.tar.gz /tmp/", "COPY b.zip rel/", "COPY --from=s0 /x /y"]))
            elif kind < 0.75:
                lines.append(rng.choice(["ENV PIP_NO_CACHE_DIR=1", "ARG VER=1", "ENV V=2"]))
            elif kind < 0.8:
                lines.append(rng.choice(['SHELL ["/bin/bash", "-o", "pipefail", "-c"]', 'SHELL ["/bin/sh", "-c"]']))
            elif kind < 0.85:
                lines.append(rng.choice(["USER root", "USER app", "USER 1000"]))
            elif kind < 0.9:
                lines.append("ONBUILD RUN " + _script(rng))
            else:
                lines.append(rng.choice(["WORKDIR /app", "CMD echo hi", 'CMD ["x"]']))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hadolint_by_seed(tmp_path_factory: pytest.TempPathFactory) -> dict[int, set]:
    work = tmp_path_factory.mktemp("generated")
    for seed in SEEDS:
        (work / f"gen{seed}").write_text(generated_dockerfile(seed))
    findings, _ = hadolint_json([Path(f"gen{seed}") for seed in SEEDS], work, "--no-fail")
    grouped: dict[int, list[dict]] = {seed: [] for seed in SEEDS}
    for finding in findings:
        grouped[int(finding["file"][3:])].append(finding)
    assert not any(f["code"] == "DL1000" for f in findings), "the generator must write files hadolint parses"
    return {seed: as_keys(found) for seed, found in grouped.items()}


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_dockerfile_findings_equal_hadolints(seed: int, hadolint_by_seed: dict[int, set]) -> None:
    text = generated_dockerfile(seed)
    ours = {(f.line, f.code, f.level, f.message) for f in lint_text(text, f"gen{seed}")}
    theirs = hadolint_by_seed[seed]
    assert ours == theirs, f"{text}\nonly lamina: {sorted(ours - theirs)}\nonly hadolint: {sorted(theirs - ours)}"


INSTRUCTION_SEEDS = range(100)
_VALUES = ["1", "$A", "${A}", '"$B x"', "'lit'", "${A:-x}", "$Ax", "/p:$PATH", '""', '"a b"']
_NAMES = ["A", "B", "PATH", "GITHUB_TOKEN", "my_secret", "Api_Key_Id", "USER_NAME", "X1", "PASSWORD_FILE"]
_LABELS = ["org.example.a", "Maintainer", "com.docker.x", "a..b", "a--b", "ok/path_1", "1abc", "abc-", '"q.key"']


def generated_instructions(seed: int) -> str:
    """Stages of ENV/ARG/LABEL/USER/EXPOSE/COPY/ADD/WORKDIR/CMD… lines (the non-shell rules)."""
    rng = random.Random(seed)
    lines: list[str] = []
    for stage in range(rng.randint(1, 3)):
        lines.append(rng.choice(["FROM alpine:3.19", f"FROM alpine:3.19 AS s{stage}", f"FROM s0 AS t{stage}",
                                 "FROM debian"]))
        for _ in range(rng.randint(1, 8)):
            kind = rng.random()
            if kind < 0.2:
                pairs = (f"{rng.choice(_NAMES)}={rng.choice(_VALUES)}" for _ in range(rng.randint(1, 3)))
                lines.append("ENV " + " ".join(pairs))
            elif kind < 0.27:
                lines.append(f"ENV {rng.choice(_NAMES)} {rng.choice(_VALUES)}")
            elif kind < 0.37:
                lines.append("ARG " + rng.choice(_NAMES) + rng.choice(["", "=1", "=$A"]))
            elif kind < 0.47:
                pairs = (f"{rng.choice(_LABELS)}={rng.choice(_VALUES)}" for _ in range(rng.randint(1, 2)))
                lines.append("LABEL " + " ".join(pairs))
            elif kind < 0.55:
                lines.append("USER " + rng.choice(["root", "0", "app", "1000:1000", "$A", "${B}:g", "0:0", "nobody"]))
            elif kind < 0.62:
                ports = (rng.choice(["80", "443/tcp", "70000", "1-65536", "8080/udp", "$P"]) for _ in range(2))
                lines.append("EXPOSE " + " ".join(ports))
            elif kind < 0.72:
                source = rng.choice(["", "--from=s0 ", "--from=0 ", "--from=9 ", "--from=nope ", "--from=img:1 "])
                lines.append(f"COPY {source}{rng.choice(['a.tar.gz', 'a b', 'x.zip', '/'])} "
                             f"{rng.choice(['rel', '/abs/', 'rel/', '$D', '/'])}")
            elif kind < 0.78:
                lines.append("ADD " + rng.choice(["a.txt", "http://x/y", "b.tgz", "c.tar.xz d.txt"]) + " /d/")
            elif kind < 0.84:
                lines.append("WORKDIR " + rng.choice(["/a", "rel", "$H", '"/q"']))
            elif kind < 0.9:
                lines.append("RUN " + rng.choice(["tar -xf a.tar.gz", "unzip x.zip", "gunzip b.tgz", "echo ok"]))
            elif kind < 0.95:
                lines.append(rng.choice(["CMD echo", 'CMD ["a"]', "ENTRYPOINT x", 'ENTRYPOINT ["y"]',
                                         "HEALTHCHECK CMD c", "HEALTHCHECK NONE"]))
            else:
                lines.append("MAINTAINER me")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hadolint_instructions(tmp_path_factory: pytest.TempPathFactory) -> dict[int, set]:
    work = tmp_path_factory.mktemp("instructions")
    for seed in INSTRUCTION_SEEDS:
        (work / f"ins{seed}").write_text(generated_instructions(seed))
    findings, _ = hadolint_json([Path(f"ins{seed}") for seed in INSTRUCTION_SEEDS], work, "--no-fail")
    grouped: dict[int, list[dict]] = {seed: [] for seed in INSTRUCTION_SEEDS}
    for finding in findings:
        grouped[int(finding["file"][3:])].append(finding)
    assert not any(f["code"] == "DL1000" for f in findings), "the generator must write files hadolint parses"
    return {seed: as_keys(found) for seed, found in grouped.items()}


@pytest.mark.parametrize("seed", INSTRUCTION_SEEDS)
def test_generated_instructions_findings_equal_hadolints(seed: int, hadolint_instructions: dict[int, set]) -> None:
    text = generated_instructions(seed)
    ours = {(f.line, f.code, f.level, f.message) for f in lint_text(text, f"ins{seed}")}
    theirs = hadolint_instructions[seed]
    assert ours == theirs, f"{text}\nonly lamina: {sorted(ours - theirs)}\nonly hadolint: {sorted(theirs - ours)}"
