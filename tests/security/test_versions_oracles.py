"""Each ecosystem's version order agrees with the ecosystem's own tool on thousands of pairs.

Pairs are generated (seeded) from the pieces that make each order interesting — epochs, ``~``,
``^``, leading zeros, letters against digits, pre-release words — half of them as near
variants of each other so that equal and almost-equal versions are common. The oracle is the
real tool: dpkg, rpm's rpmvercmp (through rpm's Lua), npm's ``semver``, Maven's
``ComparableVersion``, Ruby's ``Gem::Version``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from lamina.security.versions import apk, dpkg, golang, maven, pep440, rpm, rubygems, semver

from . import oracles

DATA = Path(__file__).parent / "data"
PAIRS = 2000


def _pairs(make: Callable[[random.Random], str], mutate: Callable[[random.Random, str], str], seed: int) -> oracles.Pairs:
    rng = random.Random(seed)
    pairs = []
    for _ in range(PAIRS):
        left = make(rng)
        right = mutate(rng, left) if rng.random() < 0.5 else make(rng)
        pairs.append((left, right))
    return pairs


def _disagreements(compare: Callable[[str, str], int], pairs: oracles.Pairs, expected: list[int]) -> list[str]:
    assert len(expected) == len(pairs), "the oracle answered a different number of pairs"
    return [f"{a} vs {b}: oracle {want}, lamina {compare(a, b)}" for (a, b), want in zip(pairs, expected, strict=True)
            if compare(a, b) != want]


def _mutate_tokens(tokens: list[str]) -> Callable[[random.Random, str], str]:
    """A variant of a version: one token inserted, dropped or swapped at a random place."""

    def mutate(rng: random.Random, version: str) -> str:
        position = rng.randrange(1, len(version) + 1)
        action = rng.random()
        if action < 0.4:
            return version[:position] + rng.choice(tokens) + version[position:]
        if action < 0.7 and len(version) > 1:
            return version[: position - 1] + version[position:] or version
        return version[:position] + rng.choice(tokens) + version[position + 1 :]

    return mutate


# --- dpkg -------------------------------------------------------------------------------------

_DEB_UPSTREAM = ["0", "1", "2", "9", "10", "01", "a", "b", "Z", "~", "~rc1", "~~", "+", ".", "+dfsg", "~beta"]
_DEB_REVISION = ["1", "2", "0", "10", "deb12u1", "~deb12u1", "+b1", "~", ".", "ubuntu1", "a"]


def _deb_version(rng: random.Random) -> str:
    epoch = f"{rng.choice([1, 2, 10])}:" if rng.random() < 0.2 else ""
    upstream = str(rng.randint(0, 12)) + "".join(rng.choice(_DEB_UPSTREAM) for _ in range(rng.randint(0, 4)))
    revision = "-" + "".join(rng.choice(_DEB_REVISION) for _ in range(rng.randint(1, 3))) if rng.random() < 0.6 else ""
    return epoch + upstream + revision


def _deb_mutate(rng: random.Random, version: str) -> str:
    head, sep, tail = version.rpartition("-")
    if sep and rng.random() < 0.5:
        return head + "-" + _mutate_tokens(_DEB_REVISION)(rng, tail).replace("-", "")
    upstream = head if sep else version
    epoch, colon, rest = upstream.rpartition(":")
    rest = _mutate_tokens(_DEB_UPSTREAM)(rng, rest).replace(":", "")
    if not rest[:1].isdigit():
        rest = "1" + rest
    return (epoch + colon if colon else "") + rest + (sep + tail if sep else "")


@pytest.mark.slow
def test_dpkg_order_agrees_with_dpkg_compare_versions(tmp_path):
    pairs = _pairs(_deb_version, _deb_mutate, seed=14)
    assert not _disagreements(dpkg.compare, pairs, oracles.dpkg_compare(pairs, tmp_path))


def test_dpkg_tilde_sorts_before_the_end_and_epochs_win():
    assert dpkg.compare("1.0~rc1", "1.0") == -1
    assert dpkg.compare("1:0.1", "9.9") == 1
    assert dpkg.compare("3.0.11-1~deb12u2", "3.0.11-1") == -1


# --- rpm --------------------------------------------------------------------------------------

_RPM_TOKENS = ["0", "1", "2", "9", "10", "007", "a", "b", "rc", "Z", ".", "_", "+", "~", "^", "~rc1", "^post1"]


def _rpm_version(rng: random.Random) -> str:
    epoch = f"{rng.choice([0, 1, 3])}:" if rng.random() < 0.2 else ""
    version = str(rng.randint(0, 12)) + "".join(rng.choice(_RPM_TOKENS) for _ in range(rng.randint(0, 4)))
    release = "-" + "".join(rng.choice(_RPM_TOKENS) for _ in range(rng.randint(1, 3))) if rng.random() < 0.5 else ""
    return epoch + version + release


def _rpm_mutate(rng: random.Random, version: str) -> str:
    mutated = _mutate_tokens(_RPM_TOKENS)(rng, version)
    return mutated if mutated[:1].isdigit() else "1" + mutated


def test_rpm_order_agrees_with_rpmvercmp(tmp_path):
    pairs = _pairs(_rpm_version, _rpm_mutate, seed=41)
    assert not _disagreements(rpm.compare, pairs, oracles.rpm_compare(pairs, tmp_path))


# --- apk: apk-tools' own test vectors -----------------------------------------------------------


def test_apk_order_agrees_with_apk_tools_test_vectors():
    checked, wrong = 0, []
    for line in (DATA / "apk-version.data").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        left, op, right = line.split()
        checked += 1
        if apk.compare(left, right) != {"<": -1, "=": 0, ">": 1}[op]:
            wrong.append(line)
    assert checked > 700 and not wrong


# --- npm semver and Go ----------------------------------------------------------------------------

_PRE_IDS = ["alpha", "beta", "rc", "0", "1", "2", "10", "a-b", "x1", "1a", "-"]


def _semver(rng: random.Random) -> str:
    core = ".".join(str(rng.choice([0, 1, 2, 10, 11])) for _ in range(3))
    pre = ".".join(rng.choice(_PRE_IDS) for _ in range(rng.randint(1, 3))) if rng.random() < 0.5 else ""
    build = "+" + rng.choice(["build.1", "001", "sha.5114f85"]) if rng.random() < 0.15 else ""
    return core + ("-" + pre if pre else "") + build


def _semver_mutate(rng: random.Random, version: str) -> str:
    version, _, _ = version.partition("+")
    core, dash, pre = version.partition("-")
    parts = core.split(".")
    if rng.random() < 0.4:
        index = rng.randrange(3)
        parts[index] = str(int(parts[index]) + rng.choice([-1, 1]) if parts[index] != "0" else 1)
        return ".".join(parts) + dash + pre
    ids = pre.split(".") if pre else []
    if ids and rng.random() < 0.5:
        ids.pop(rng.randrange(len(ids)))
    else:
        ids.insert(rng.randint(0, len(ids)), rng.choice(_PRE_IDS))
    return core + ("-" + ".".join(ids) if ids else "")


def test_semver_order_agrees_with_npm_semver(tmp_path):
    pairs = _pairs(_semver, _semver_mutate, seed=7)
    assert not _disagreements(semver.compare, pairs, oracles.node_semver_compare(pairs, tmp_path))


def _go_version(rng: random.Random) -> str:
    if rng.random() < 0.3:  # a pseudo-version
        base = rng.choice(["v0.0.0-", "v1.2.4-0.", "v2.0.0-pre.0."])
        stamp = f"20{rng.randint(18, 24)}{rng.randint(10, 12)}{rng.randint(10, 28)}{rng.randint(100000, 235959)}"
        return base + stamp + "-" + rng.choice(["daa7c04131f5", "0a1b2c3d4e5f"])
    return "v" + _semver(rng).partition("+")[0] + ("+incompatible" if rng.random() < 0.1 else "")


def _go_mutate(rng: random.Random, version: str) -> str:
    return "v" + _semver_mutate(rng, version[1:])


def test_go_order_agrees_with_semver_on_v_prefixed_and_pseudo_versions(tmp_path):
    pairs = _pairs(_go_version, _go_mutate, seed=1)
    stripped = [(a[1:], b[1:]) for a, b in pairs]
    assert not _disagreements(golang.compare, pairs, oracles.node_semver_compare(stripped, tmp_path))


def test_go_toolchain_spellings_and_release_candidates():
    assert golang.compare("go1.21.3", "1.21.3") == 0
    assert golang.compare("go1.21rc2", "go1.21.0") == -1
    assert golang.compare("v1.22", "v1.22.0") == 0
    assert golang.compare("v2.0.0+incompatible", "v2.0.0") == 0


# --- Maven --------------------------------------------------------------------------------------

_MAVEN_TOKENS = ["0", "1", "2", "10", "01", "alpha", "a", "beta", "b", "m", "milestone", "rc", "cr", "snapshot",
                 "SNAPSHOT", "ga", "final", "release", "sp", "foo", "x"]


def _maven_version(rng: random.Random) -> str:
    version = str(rng.randint(0, 3))
    for _ in range(rng.randint(0, 4)):
        version += rng.choice([".", "-", "", ""]) + rng.choice(_MAVEN_TOKENS)
    return version


def _maven_mutate(rng: random.Random, version: str) -> str:
    return version + rng.choice([".", "-", ""]) + rng.choice(_MAVEN_TOKENS) if rng.random() < 0.5 else (
        version.rsplit(rng.choice(".-"), 1)[0] or version
    )


def test_maven_order_agrees_with_maven_comparable_version(tmp_path):
    pairs = _pairs(_maven_version, _maven_mutate, seed=3)
    assert not _disagreements(maven.compare, pairs, oracles.maven_compare(pairs, tmp_path))


# --- RubyGems ------------------------------------------------------------------------------------

_GEM_TOKENS = ["0", "1", "2", "10", "a", "b", "pre", "rc", "alpha", "0a", "1b"]


def _gem_version(rng: random.Random) -> str:
    version = str(rng.randint(0, 3)) + "".join("." + rng.choice(_GEM_TOKENS) for _ in range(rng.randint(0, 4)))
    if rng.random() < 0.15:
        version += "-" + rng.choice(["pre", "1", "rc.1"])
    return version


def _gem_mutate(rng: random.Random, version: str) -> str:
    if rng.random() < 0.5:
        return version + "." + rng.choice(_GEM_TOKENS)
    head, dot, _ = version.rpartition(".")
    return head if dot and head[:1].isdigit() and "-" not in head[-1:] else version + ".0"


def test_rubygems_order_agrees_with_gem_version(tmp_path):
    pairs = _pairs(_gem_version, _gem_mutate, seed=5)
    assert not _disagreements(rubygems.compare, pairs, oracles.rubygems_compare(pairs, tmp_path))


# --- PEP 440: the copy of packaging that pip itself decides with ------------------------------------

_PEP440_TOKENS = ["0", "1", "2", "10", ".", ".0", "a1", "b2", "rc1", "c1", ".post1", ".dev0", "-1", "+local.1", "!"]


def _pep440_version(rng: random.Random) -> str:
    epoch = f"{rng.choice([1, 2])}!" if rng.random() < 0.1 else ""
    release = ".".join(str(rng.choice([0, 1, 2, 10])) for _ in range(rng.randint(1, 4)))
    pre = rng.choice(["", "", "a1", "b2", "rc1", "c3", "alpha2", "-beta1"])
    post = rng.choice(["", "", ".post1", "-2", ".post0"])
    dev = rng.choice(["", "", ".dev0", ".dev3"])
    local = rng.choice(["", "", "", "+ubuntu.1", "+1"])
    return epoch + release + pre + post + dev + local


def _pep440_mutate(rng: random.Random, version: str) -> str:
    return _pep440_version(rng) if rng.random() < 0.3 else version + rng.choice([".0", ".1", "a1", ".post1", ".dev1"])


def test_pep440_order_agrees_with_pips_own_packaging():
    try:
        from pip._vendor.packaging.version import InvalidVersion, Version
    except ImportError:
        pytest.fail("pip is missing from the venv: run 'make test'")
    pairs = _pairs(_pep440_version, _pep440_mutate, seed=440)
    wrong, compared = [], 0
    for left, right in pairs:
        try:
            a, b = Version(left), Version(right)
        except InvalidVersion:
            continue
        compared += 1
        if pep440.compare(left, right) != (a > b) - (a < b):
            wrong.append((left, right))
    assert compared > 1500 and not wrong
