"""``lamina analyze`` as a command: misconfigured rules as dive reports them, every image source,
one-line errors, the plain report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.analysis.archives import entry, write_docker_archive
from tests.analysis.oracle import run_dive
from tests.conftest import require_tool

MIB = 1 << 20


@pytest.fixture
def wasteful(tmp_path: Path) -> Path:
    layers = [[entry("etc/passwd", b"root:x:0:0::/:/bin/sh\n")], [entry("big", bytes(MIB))], [entry(".wh.big")]]
    return write_docker_archive(tmp_path / "wasteful.tar", layers, ["ADD rootfs /", "RUN make big", "RUN rm big"])


@pytest.mark.parametrize("flags", [["--lowestEfficiency", "2", "--highestWastedBytes", "5XB"],
                                   ["--highestUserWastedPercent", "1.5"]])
def test_misconfigured_rules_equal_dives_report(lamina, wasteful: Path, dive_workdir: Path, flags: list[str]) -> None:
    dive = run_dive(wasteful, dive_workdir, *flags)
    ours = lamina.run("analyze", "--ci", *flags, f"docker-archive:{wasteful}", check=False)
    assert ours.returncode == dive.ci_exit == 1
    assert [line for line in ours.stdout.decode().splitlines() if line.strip()] == dive.ci_lines


def test_every_source_gives_the_same_export(lamina, wasteful: Path, tmp_path: Path) -> None:
    skopeo = require_tool("skopeo", "skopeo")
    subprocess.run([skopeo, "copy", "-q", f"docker-archive:{wasteful}", f"oci:{tmp_path / 'layout'}:w"], check=True)
    subprocess.run([skopeo, "copy", "-q", f"docker-archive:{wasteful}", f"oci-archive:{tmp_path / 'w.oci.tar'}:w"],
                   check=True)
    lamina.out("load", "-i", str(wasteful))
    exports = []
    for spec in (f"docker-archive:{wasteful}", f"oci:{tmp_path / 'layout'}:w", f"oci-archive:{tmp_path / 'w.oci.tar'}",
                 "corpus:latest"):
        out = tmp_path / "export.json"
        lamina.out("analyze", "--json", str(out), spec)
        exports.append(out.read_bytes())
    assert len(set(exports)) == 1
    assert json.loads(exports[0])["image"]["inefficientBytes"] == MIB


def test_plain_report_names_layers_and_waste(lamina, wasteful: Path) -> None:
    report = lamina.out("analyze", f"docker-archive:{wasteful}")
    assert "RUN make big" in report and "RUN rm big" in report
    assert "  wastedBytes: 1048576 bytes (1.0 MB)" in report
    assert "    2        1.0 MB  /big" in report


def test_ci_passes_with_generous_rules(lamina, wasteful: Path) -> None:
    result = lamina.run("analyze", "--ci", "--lowestEfficiency", "0", "--highestUserWastedPercent", "1",
                        f"docker-archive:{wasteful}", check=False)
    assert result.returncode == 0
    assert "Result:PASS [Total:3] [Passed:2] [Failed:0] [Warn:0] [Skipped:1]" in result.stdout.decode()


@pytest.mark.parametrize("arguments", [
    ["analyze", "docker-archive:/nonexistent/x.tar"],
    ["analyze", "--ci", "--ci-config", "/nonexistent/.dive-ci", "busybox:latest"],
])
def test_errors_are_one_line(lamina, arguments: list[str]) -> None:
    lamina.fails(*arguments)


def test_bad_ci_config_names_the_line(lamina, wasteful: Path, tmp_path: Path) -> None:
    config = tmp_path / ".dive-ci"
    config.write_text("rules:\n  lowestEfficiency: [0.5\n")
    stderr = lamina.fails("analyze", "--ci", "--ci-config", str(config), f"docker-archive:{wasteful}")
    assert f"{config}:" in stderr


@pytest.mark.registry
def test_registry_reference_is_analyzed_and_diffed_like_the_archive(lamina, wasteful: Path, registry,
                                                                    tmp_path: Path) -> None:
    """A registry reference is read through the Image seam (not stored) and gives the archive's
    export; image diff between the registry and the archive finds nothing."""
    ref = f"{registry.host}/analysis/wasteful:1"
    lamina.out("load", "-i", str(wasteful))
    lamina.out("tag", "corpus:latest", ref)
    lamina.out("push", ref)
    lamina.out("rmi", ref, "corpus:latest")
    from_registry, from_archive = tmp_path / "registry.json", tmp_path / "archive.json"
    lamina.out("analyze", "--json", str(from_registry), ref)
    lamina.out("analyze", "--json", str(from_archive), f"docker-archive:{wasteful}")
    assert from_registry.read_bytes() == from_archive.read_bytes()
    difference = json.loads(lamina.out("image", "diff", "--format", "json", ref, f"docker-archive:{wasteful}"))
    assert difference["files"] == {"added": [], "removed": [], "changed": []} and difference["sharedLayers"] == 3
