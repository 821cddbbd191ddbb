"""lamina's analysis equals dive's on hand-made archives that exercise every rule of dive's counting.

Each case is a docker-archive written byte by byte (tests/analysis/archives.py), so the layers
hold exactly the whiteouts, opaque directories, links and overwrites a case is about. dive reads
the same file; its JSON export must equal lamina's byte for byte, and its CI report (efficiency,
wasted bytes, user wasted percent, inefficient files, rule lines) line for line.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from lamina.analysis import analyze
from lamina.analysis.ci import DEFAULTS, evaluate, summary_lines
from lamina.analysis.report import dive_json
from tests.analysis.archives import entry, write_docker_archive
from tests.analysis.oracle import run_dive

DIR, SYM, LNK = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
MIB = 1 << 20


def _base() -> list:
    return [entry("bin", kind=DIR), entry("bin/busybox", b"\x7fELF" + bytes(40_000), mode=0o755),
            entry("bin/sh", kind=SYM, linkname="busybox"), entry("etc", kind=DIR),
            entry("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"), entry("tmp", kind=DIR, mode=0o1777)]


CASES = {
    "added_then_deleted": ([_base(), [entry("big", bytes(MIB))], [entry(".wh.big")]],
                           ["ADD rootfs /", "/bin/sh -c dd of=/big", "#empty ENV A=1", "/bin/sh -c rm /big"]),
    "overwritten": ([_base(), [entry("etc", kind=DIR), entry("etc/app.conf", b"a" * 5000)],
                     [entry("etc", kind=DIR), entry("etc/app.conf", b"b" * 7000)]],
                    ["ADD rootfs /", "COPY app.conf /etc/", "COPY app.conf /etc/"]),
    "chmod_big_file": ([_base(), [entry("data.bin", b"z" * (2 * MIB))], [entry("data.bin", b"z" * (2 * MIB), mode=0o600)]],
                       ["ADD rootfs /", "COPY data.bin /", "/bin/sh -c chmod 600 /data.bin"]),
    "hard_links": ([_base(), [entry("opt", kind=DIR), entry("opt/a", b"q" * 3000),
                              entry("opt/b", kind=LNK, linkname="opt/a")],
                    [entry("opt", kind=DIR), entry("opt/b", kind=LNK, linkname="opt/a"), entry("opt/.wh.a")]],
                   ["ADD rootfs /", "/bin/sh -c make a; ln a b", "/bin/sh -c rm a; touch b"]),
    "directory_whiteout": ([_base(), [entry("usr", kind=DIR), entry("usr/share", kind=DIR),
                                      entry("usr/share/doc", kind=DIR), entry("usr/share/doc/a", b"1" * 10_000),
                                      entry("usr/share/doc/b", b"2" * 20_000), entry("usr/share/doc/c", kind=DIR)],
                            [entry("usr", kind=DIR), entry("usr/share", kind=DIR), entry("usr/share/.wh.doc")]],
                           ["ADD rootfs /", "/bin/sh -c install docs", "/bin/sh -c rm -rf /usr/share/doc"]),
    "opaque_directory": ([_base(), [entry("var", kind=DIR), entry("var/cache", kind=DIR),
                                    entry("var/cache/x", b"x" * 9000), entry("var/cache/y", b"y" * 1000)],
                          [entry("var", kind=DIR), entry("var/cache", kind=DIR), entry("var/cache/.wh..wh..opq"),
                           entry("var/cache/y", b"Y" * 500)]],
                         ["ADD rootfs /", "/bin/sh -c fill cache", "/bin/sh -c rm -rf /var/cache && mkdir ..."]),
    "whiteout_of_missing_path": ([_base(), [entry("a", b"a" * 100), entry(".wh.ghost"), entry("z", b"z" * 300)],
                                  [entry("a", b"b" * 200), entry("z", b"y" * 400)]],
                                 ["ADD rootfs /", "/bin/sh -c odd", "/bin/sh -c again"]),
    "dot_slash_names_and_implied_parents": ([
        [entry("./", kind=DIR), entry("./bin/busybox", b"b" * 5000, mode=0o4755), entry("./srv/empty", kind=DIR)],
        [entry("./srv/empty", kind=DIR, mode=0o700), entry("./srv/new/deep/file", b"n" * 100)],
        [entry("./srv/.wh.empty"), entry("./bin/busybox", b"c" * 5000, mode=0o755, uid=1000, gid=1000)]],
        ["ADD rootfs /", "/bin/sh -c mkdir", "/bin/sh -c chown"]),
    "whiteout_in_base_layer": ([[*_base(), entry(".wh.tmp")], [entry("tmp", kind=DIR), entry("tmp/t", b"t" * 10)]],
                               ["ADD rootfs /", "/bin/sh -c touch /tmp/t"]),
    "single_layer": ([_base()], ["ADD rootfs /"]),
    "same_layer_twice": ([_base(), [entry("x", b"x" * 4096)], [entry("x", b"x" * 4096)]],
                         ["ADD rootfs /", "COPY x /", "COPY x /"]),
    "history_shorter_than_layers": ([_base(), [entry("y", b"y" * 10)], [entry("y", b"y" * 20)]], ["ADD rootfs /"]),
    "many_equal_sizes": ([_base(), [entry(f"f{i:02}", b"s" * 64) for i in range(20)],
                          [entry(f".wh.f{i:02}") for i in range(0, 20, 2)] + [entry(f"f{i:02}", b"t" * 64)
                                                                              for i in range(1, 20, 2)]],
                         ["ADD rootfs /", "COPY many /", "/bin/sh -c shuffle"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_export_equals_dives(case: str, tmp_path: Path, dive_workdir: Path) -> None:
    layers, commands = CASES[case]
    archive = write_docker_archive(tmp_path / f"{case}.tar", layers, commands)
    dive = run_dive(archive, dive_workdir)
    report = analyze(f"docker-archive:{archive}")
    assert dive_json(report) == dive.json_bytes
    outcome = evaluate(report, dict(DEFAULTS))
    assert summary_lines(report) + [line for line in outcome.report(report).splitlines() if line.strip()] \
        == dive.ci_lines
    assert (0 if outcome.passed else 1) == dive.ci_exit


def test_rules_from_flags_and_file_equal_dives(tmp_path: Path, dive_workdir: Path, lamina) -> None:
    """The same rules given as flags and as a .dive-ci file give dive's PASS/FAIL lines and exit code."""
    layers, commands = CASES["overwritten"]
    archive = write_docker_archive(tmp_path / "rules.tar", layers, commands)
    flags = ["--lowestEfficiency", "0.5", "--highestWastedBytes", "10kB", "--highestUserWastedPercent", "0.99"]
    dive = run_dive(archive, dive_workdir, *flags)
    ours = lamina.run("analyze", "--ci", *flags, f"docker-archive:{archive}", check=False)
    assert ours.returncode == dive.ci_exit == 1
    assert [line for line in ours.stdout.decode().splitlines() if line.strip()] == dive.ci_lines
    (dive_workdir / ".dive-ci").write_text("rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: 20KB\n"
                                           "  highestUserWastedPercent: disabled\n")
    dive = run_dive(archive, dive_workdir)
    ours = lamina.run("analyze", "--ci", "--ci-config", str(dive_workdir / ".dive-ci"), f"docker-archive:{archive}",
                      check=False)
    assert ours.returncode == dive.ci_exit == 0
    assert [line for line in ours.stdout.decode().splitlines() if line.strip()] == dive.ci_lines


@pytest.mark.parametrize(("case", "expected"), [
    # (added, modified, removed) per layer, from how each case is made
    ("added_then_deleted", [(6, 0, 0), (1, 0, 0), (0, 0, 1)]),
    ("overwritten", [(6, 0, 0), (1, 0, 0), (0, 1, 0)]),
    ("chmod_big_file", [(6, 0, 0), (1, 0, 0), (0, 1, 0)]),
    ("directory_whiteout", [(6, 0, 0), (6, 0, 0), (0, 0, 4)]),
    ("same_layer_twice", [(6, 0, 0), (1, 0, 0), (0, 0, 0)]),
])
def test_layer_changes(case: str, expected: list[tuple[int, int, int]], tmp_path: Path) -> None:
    layers, commands = CASES[case]
    report = analyze(f"docker-archive:{write_docker_archive(tmp_path / 'c.tar', layers, commands)}")
    assert [(layer.changes.added, layer.changes.modified, layer.changes.removed) for layer in report.layers] == expected
