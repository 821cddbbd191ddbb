"""The real version comparators the version-order tests check lamina's against, batched.

Each oracle runs ONE process for a whole batch of pairs (dpkg has no batch mode: one shell
loop calls it per pair) and returns -1/0/1 per pair.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool

Pairs = list[tuple[str, str]]


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def dpkg_compare(pairs: Pairs, tmp: Path) -> list[int]:
    require_tool("dpkg", "dpkg")
    listing = tmp / "dpkg-pairs.txt"
    listing.write_text("".join(f"{a} {b}\n" for a, b in pairs))
    script = (
        'while read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo -1; '
        'elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done < "$1"'
    )
    out = subprocess.run(["sh", "-c", script, "sh", str(listing)], capture_output=True, text=True, check=True)
    return [int(line) for line in out.stdout.split()]


def rpm_compare(pairs: Pairs, tmp: Path) -> list[int]:
    require_tool("rpm", "rpm")
    listing = tmp / "rpm-pairs.txt"
    listing.write_text("".join(f"{a} {b}\n" for a, b in pairs))
    script = tmp / "vercmp.lua"
    script.write_text(
        f'for line in io.lines("{listing}") do\n'
        '  local a, b = line:match("^(%S+) (%S+)$")\n'
        '  io.write(rpm.vercmp(a, b), "\\n")\n'
        "end\n"
    )
    out = subprocess.run(
        ["rpm", "--eval", f'%{{lua: dofile("{script}")}}'], capture_output=True, text=True, check=True
    )
    return [_sign(int(line)) for line in out.stdout.split()]


def rubygems_compare(pairs: Pairs, tmp: Path) -> list[int]:
    require_tool("ruby", "ruby")
    program = 'STDIN.each_line { |l| a, b = l.split(" "); puts(Gem::Version.new(a) <=> Gem::Version.new(b)) }'
    out = subprocess.run(
        ["ruby", "-e", program], input="".join(f"{a} {b}\n" for a, b in pairs),
        capture_output=True, text=True, check=True,
    )
    return [int(line) for line in out.stdout.split()]


MAVEN_JAR = "/usr/share/java/maven-artifact-3.x.jar"
_MAVEN_ORACLE = """
import java.io.*;
import org.apache.maven.artifact.versioning.ComparableVersion;
public class MavenOrder {
  public static void main(String[] args) throws IOException {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    StringBuilder out = new StringBuilder();
    for (String line; (line = in.readLine()) != null; ) {
      String[] pair = line.split(" ");
      int r = new ComparableVersion(pair[0]).compareTo(new ComparableVersion(pair[1]));
      out.append(Integer.signum(r)).append('\\n');
    }
    System.out.print(out);
  }
}
"""


def maven_compare(pairs: Pairs, tmp: Path) -> list[int]:
    require_tool("java", "default-jre-headless")
    if not os.path.exists(MAVEN_JAR):
        pytest.fail(f"{MAVEN_JAR} is missing: run 'make test' as root (it installs Debian's libmaven3-core-java)")
    source = tmp / "MavenOrder.java"
    source.write_text(_MAVEN_ORACLE)
    out = subprocess.run(
        ["java", "-cp", MAVEN_JAR, str(source)], input="".join(f"{a} {b}\n" for a, b in pairs),
        capture_output=True, text=True, check=True,
    )
    return [int(line) for line in out.stdout.split()]


def _node_semver_dir() -> Path:
    """npm's ``semver`` package, installed once per machine into a cache dir (flock-shared)."""
    require_tool("npm", "npm")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lamina-tests" / "node-semver"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cache / "node_modules" / "semver" / "package.json").exists():
            subprocess.run(
                ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(cache), "semver@7"],
                check=True, capture_output=True,
            )
    return cache


def node_semver_compare(pairs: Pairs, tmp: Path) -> list[int]:
    require_tool("node", "nodejs")
    cache = _node_semver_dir()
    program = (
        "const semver = require('semver'); let input = '';"
        "process.stdin.on('data', d => input += d).on('end', () => {"
        " const out = JSON.parse(input).map(([a, b]) => semver.compare(a, b));"
        " process.stdout.write(JSON.stringify(out)); });"
    )
    out = subprocess.run(
        ["node", "-e", program], input=json.dumps(pairs), capture_output=True, text=True, check=True,
        env={**os.environ, "NODE_PATH": str(cache / "node_modules")},
    )
    return json.loads(out.stdout)
