"""Looking at an image the way docker shows it, to compare lamina's builds with docker's.

An image is reduced to what a user can observe: the container config, the author, the history
(``created_by`` with content digests masked, ``empty_layer``), the number of layers, and the file
tree of ``docker create`` + ``docker export`` (type, mode, owner, size, content hash, link target;
mtimes are not compared).
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from pathlib import Path

from tests.conftest import Docker

# What docker create/export adds that is not image content.
NOT_CONTENT = {".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab", "dev", "proc", "sys"}
CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels",
               "StopSignal", "Healthcheck", "OnBuild", "Shell")
_DIGEST = re.compile(r"(file|dir|multi):[0-9a-f]{64}")
_CHOWN = re.compile(r"(--chown=\S+?) ?HASH")
# docker 20.10 prints the healthcheck struct without StartInterval; docker 25+ (and lamina) with it
_HEALTHCHECK = re.compile(r"HEALTHCHECK &\{.*\}")


def observe(docker: Docker, image: str, *, files: bool = True) -> dict:
    """Everything about ``image`` (a name in ``docker``) that the comparisons look at."""
    info = json.loads(docker.out("image", "inspect", image))[0]
    created = [json.loads(line) for line in
               docker.out("history", "--no-trunc", "--format", "{{json .CreatedBy}}", image).splitlines()][::-1]
    config = info.get("Config") or {}
    view = {
        "config": {key: _normal(config.get(key)) for key in CONFIG_KEYS},
        "author": info.get("Author", ""),
        "layers": len(info["RootFS"].get("Layers") or []),
        "history": [normal_created_by(text) for text in created],
    }
    if files:
        view["files"] = file_tree(docker, image)
    return view


def normal_created_by(text: str) -> str:
    """History text with the content digests masked (they hash different tar headers)."""
    text = _HEALTHCHECK.sub("HEALTHCHECK &{...}", text)
    return _CHOWN.sub(r"\1 HASH", _DIGEST.sub("HASH", text))


def file_tree(docker: Docker, image: str) -> dict[str, tuple]:
    return tree_of_tar(docker.export_image(image))


def tree_of_tar(data: bytes) -> dict[str, tuple]:
    import io

    tree: dict[str, tuple] = {}
    contents: dict[str, tuple[int, str]] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            path = member.name.removeprefix("./").strip("/")
            if not path or path in NOT_CONTENT or path.split("/")[0] in ("dev", "proc", "sys"):
                continue
            mode = member.mode & 0o7777
            if member.isreg():
                body = archive.extractfile(member).read()  # type: ignore[union-attr]
                contents[path] = (len(body), hashlib.sha256(body).hexdigest()[:16])
                tree[path] = ("file", oct(mode), member.uid, member.gid, *contents[path])
            elif member.islnk():
                tree[path] = ("file", oct(mode), member.uid, member.gid, *contents[member.linkname.strip("/")])
            elif member.issym():
                tree[path] = ("symlink", oct(mode), member.uid, member.gid, member.linkname)
            elif member.isdir():
                tree[path] = ("dir", oct(mode), member.uid, member.gid)
            else:
                tree[path] = ("other", oct(mode), member.uid, member.gid)
    return tree


def _normal(value):
    if isinstance(value, dict) and "Test" in value:  # Healthcheck: zero fields are left out
        value = {key: item for key, item in value.items() if item not in (None, 0, "", [])}
    return None if value in (None, [], {}, "") else value


def load_into_docker(docker: Docker, archive: Path) -> str:
    """``docker load`` a lamina save; returns the name it was loaded as."""
    out = docker.out("load", "-i", str(archive))
    match = re.search(r"Loaded image: (\S+)", out) or re.search(r"Loaded image ID: (\S+)", out)
    assert match, out
    return match.group(1)


def differences(expected: dict, got: dict) -> list[str]:
    """Readable differences between two observations (empty when they agree)."""
    problems = []
    for key in ("config", "author", "layers", "history"):
        if expected[key] != got[key]:
            problems.append(f"{key}: docker {expected[key]!r} != lamina {got[key]!r}")
    if "files" in expected:
        for path in sorted(set(expected["files"]) | set(got["files"])):
            want, have = expected["files"].get(path), got["files"].get(path)
            if want != have:
                problems.append(f"/{path}: docker {want} != lamina {have}")
    return problems
