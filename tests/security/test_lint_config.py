"""hadolint's config file read by ``lamina lint``: same file, same findings and exit status as hadolint.

Covers ``ignored``, ``failure-threshold``, ``trustedRegistries`` (DL3026 on FROM, COPY --from and
RUN --mount from=), ``override``, ``label-schema`` with each label type (DL3049–DL3058),
``strict-labels``, ``disable-ignore-pragma`` and ``override`` raising the rules that are off by
default (DL1001, DL3057).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.security.lint_oracle import CORPUS, hadolint_json
from tests.security.test_lint_cli import run_lamina

CONFIGS = CORPUS / "config"


def _keys(findings: list[dict]) -> list[tuple]:
    return sorted((f["file"], f["line"], f["code"], f["level"], f["message"]) for f in findings)


@pytest.mark.parametrize(
    ("dockerfile", "config"),
    [
        (CONFIGS / "registries_labels.Dockerfile", CONFIGS / "hadolint.yaml"),
        (CORPUS / "pragmas.Dockerfile", CONFIGS / "pragmas_off.yaml"),
        (CORPUS / "from_images.Dockerfile", CONFIGS / "hadolint.yaml"),
        (CORPUS / "healthchecks.Dockerfile", CONFIGS / "healthcheck_override.yaml"),
        (CORPUS / "image_config.Dockerfile", CONFIGS / "healthcheck_override.yaml"),
    ],
)
def test_config_given_with_dash_c_gives_hadolints_result(tmp_path: Path, dockerfile: Path, config: Path) -> None:
    shutil.copy(dockerfile, tmp_path / dockerfile.name)
    shutil.copy(config, tmp_path / "lint.yaml")
    ours = run_lamina("-c", "lint.yaml", "-f", "json", dockerfile.name, cwd=tmp_path)
    theirs, status = hadolint_json([Path(dockerfile.name)], tmp_path, "-c", "lint.yaml")
    assert _keys(json.loads(ours.stdout)) == _keys(theirs)
    assert ours.returncode == status, ours.stderr


def test_hadolint_yaml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    dockerfile = CONFIGS / "registries_labels.Dockerfile"
    shutil.copy(dockerfile, tmp_path / "Dockerfile")
    shutil.copy(CONFIGS / "hadolint.yaml", tmp_path / ".hadolint.yaml")
    ours = run_lamina("-f", "json", cwd=tmp_path)
    theirs, status = hadolint_json([Path("Dockerfile")], tmp_path)
    assert _keys(json.loads(ours.stdout)) == _keys(theirs)
    assert {f["code"] for f in theirs} >= {"DL3026", "DL3049", "DL3050", "DL3051", "DL3052", "DL3053", "DL3055"}
    assert ours.returncode == status


def test_a_config_that_is_not_yaml_is_one_error_line(lamina, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("ignored: [DL3008\n")
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.19\n")
    stderr = lamina.fails("lint", "-c", str(tmp_path / "bad.yaml"), str(tmp_path / "Dockerfile"))
    assert "bad.yaml" in stderr.splitlines()[0]
