"""``lamina build --policy``: policy-check rules (YAML) the built image must pass, and a
containers-policy.json that governs the base-image pulls of the build."""

from __future__ import annotations

import json
from pathlib import Path

from tests.security import sign_support
from tests.security.sign_support import push_tiny

sign_registry = sign_support.sign_registry
RULES = "rules:\n  non-root: true\n  labels: [org.opencontainers.image.source]\n  max-layers: {layers}\n"


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    return context


def _error_line(result) -> str:
    stderr = result.stderr.decode()
    assert result.returncode != 0 and "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("lamina: error: "), stderr
    return last


def test_a_built_image_that_passes_the_rules_builds(lamina, imported_busybox, tmp_path):
    layers = len(json.loads(lamina.out("inspect", "busybox:latest"))[0]["RootFS"]["Layers"])
    (tmp_path / "rules.yaml").write_text(RULES.format(layers=layers))
    context = _context(tmp_path, "FROM busybox:latest\nLABEL org.opencontainers.image.source=x\nUSER 1000\n")
    lamina.run("build", "-t", "good:1", "--policy", str(tmp_path / "rules.yaml"), str(context))
    assert lamina.out("images", "-q", "good:1").strip()


def test_a_built_image_that_breaks_a_rule_fails_the_build(lamina, imported_busybox, tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES.format(layers=10))
    context = _context(tmp_path, "FROM busybox:latest\nLABEL org.opencontainers.image.source=x\nUSER root\n")
    result = lamina.run("build", "-t", "bad:1", "--policy", str(tmp_path / "rules.yaml"), str(context), check=False)
    line = _error_line(result)
    assert "breaks policy" in line and "non-root: runs as root (User 'root')" in line
    assert b"FAIL" in result.stderr  # the report table precedes the error line


def test_bad_rules_stop_the_build_before_it_starts(lamina, imported_busybox, tmp_path):
    (tmp_path / "rules.yaml").write_text("rules:\n  colour: blue\n")
    context = _context(tmp_path, "FROM busybox:latest\nLABEL a=b\n")
    result = lamina.run("build", "-t", "never:1", "--policy", str(tmp_path / "rules.yaml"), str(context), check=False)
    assert "unknown rule 'colour'" in _error_line(result)
    assert b"Step 1/" not in result.stdout
    assert lamina.out("images", "-q", "never:1").strip() == ""


def test_a_containers_policy_refuses_the_base_image_pull(lamina, sign_registry, tmp_path):
    base = f"{sign_registry.host}/bases/unsigned:v1"
    push_tiny(sign_registry.host, "bases/unsigned", "v1", "build-base")
    (tmp_path / "policy.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}], "transports": {
        "docker": {f"{sign_registry.host}/bases": [{"type": "reject"}]}}}))
    context = _context(tmp_path, f"FROM {base}\nLABEL a=b\n")
    result = lamina.run("build", "-t", "app:1", "--policy", str(tmp_path / "policy.json"), str(context), check=False)
    assert f"(docker:{sign_registry.host}/bases): reject" in _error_line(result)
    assert lamina.out("images", "-q").strip() == ""
