"""``lamina lint`` gives hadolint's findings: (line, code, level, message) equal on every Dockerfile.

The corpus is tests/security/data/dockerfiles (written to trigger each DL rule and to not
trigger it), the Dockerfiles of the compat table (tests/compat/cases.py) and examples/. hadolint
runs once over all of them (its JSON names each file); every file is one test.

Deliberate differences are listed here by name, with their reason (docs/security.md says the
same to users).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lamina.errors import DockerfileError
from lamina.security.lint import lint_text
from tests.compat.cases import CASES
from tests.security.lint_oracle import CORPUS, REPO, as_keys, hadolint_json

# hadolint's parser (language-docker) refuses these files, which docker builds: hadolint reports
# one DL1000 parse error, lamina lints them. For these the test checks that hadolint really
# refuses and lamina really lints.
HADOLINT_CANNOT_PARSE = "hadolint's parser refuses a file docker builds (DL1000)"

# A RUN whose last line ends in a line continuation at the end of the file: hadolint keeps the
# dangling backslash in the script and ShellCheck reports SC1072 on it; lamina lints the
# instruction as docker runs it (without the backslash).
DANGLING_CONTINUATION_AT_EOF = {"compat-parser-continuation-corners": {(12, "SC1072")}}


def _corpus() -> dict[str, str]:
    """name → Dockerfile text, for every file the oracle comparison covers."""
    files = {f"corpus-{path.name}": path.read_text() for path in sorted(CORPUS.glob("*.Dockerfile"))}
    for case in CASES:
        if case.fail is None and not case.stdin.startswith("url"):
            files[f"compat-{case.name}"] = case.dockerfile
    for path in sorted((REPO / "examples").glob("*/Dockerfile")):
        files[f"example-{path.parent.name}"] = path.read_text()
    return files


FILES = _corpus()


@pytest.fixture(scope="module")
def hadolint_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """hadolint's JSON for every corpus file, grouped by file name (one hadolint run)."""
    work = tmp_path_factory.mktemp("hadolint")
    for name, text in FILES.items():
        (work / name).write_text(text, errors="surrogateescape")
    findings, _ = hadolint_json([Path(name) for name in FILES], work, "--no-fail")
    grouped: dict[str, list[dict]] = {name: [] for name in FILES}
    for finding in findings:
        grouped[finding["file"]].append(finding)
    return grouped


@pytest.mark.parametrize("name", sorted(FILES))
def test_findings_equal_hadolints(name: str, hadolint_findings: dict[str, list[dict]]) -> None:
    theirs = hadolint_findings[name]
    if any(f["code"] == "DL1000" for f in theirs):
        # HADOLINT_CANNOT_PARSE: lamina must lint it all the same.
        lint_text(FILES[name], name)
        return
    ours = {(f.line, f.code, f.level, f.message) for f in lint_text(FILES[name], name)}
    expected = as_keys(theirs)
    dangling = DANGLING_CONTINUATION_AT_EOF.get(name, set())
    expected = {finding for finding in expected if finding[:2] not in dangling}
    assert ours == expected, f"only lamina: {sorted(ours - expected)}; only hadolint: {sorted(expected - ours)}"


def test_the_corpus_triggers_every_rule_that_needs_no_configuration(hadolint_findings) -> None:
    """Each DL rule is seen failing somewhere in the corpus (and so compared with hadolint)."""
    from lamina.security.lint.rules import all_rules

    seen = {f["code"] for findings in hadolint_findings.values() for f in findings}
    # Rules that need configuration (test_lint_config.py), are off by default (level "ignore"),
    # or fire only on a file docker refuses to build (ONBUILD FROM: lamina stops at the parse).
    need_more = {"DL1001", "DL3026", "DL3043", "DL3057"}
    assert sorted(set(all_rules()) - seen - need_more) == []


def test_a_file_docker_refuses_is_one_error_naming_the_line() -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"):
        lint_text("FROM alpine:3.19\nONBUILD FROM busybox\n")
