"""A lamina store with busybox in it, and a way to see the files of a built image."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lamina.api import Client
from lamina.build.rootfs import RootfsViews


@pytest.fixture(scope="module")
def client(busybox_tar: Path, tmp_path_factory) -> Client:
    client = Client(tmp_path_factory.mktemp("bx-store") / "store")
    client.import_image(str(busybox_tar), "busybox:latest", changes=['CMD ["sh"]'])
    yield client
    client.close()


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    return context


def write(context: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return context


def image_files(client: Client, name: str, tmp_path: Path) -> dict[str, tuple]:
    """Path → (kind, mode, uid, gid, content or link target, mtime) of an image's merged files."""
    image_id = client.store.resolve(name)
    views = RootfsViews(client.store, tmp_path)
    try:
        root = views.view(client.store.image_diff_ids(image_id))
        files: dict[str, tuple] = {}
        for directory, dirs, names in os.walk(root):
            for entry in [*dirs, *names]:
                path = Path(directory) / entry
                info = os.lstat(path)
                rel = str(path.relative_to(root))
                mode = stat.S_IMODE(info.st_mode)
                if stat.S_ISDIR(info.st_mode):
                    files[rel] = ("dir", mode, info.st_uid, info.st_gid, None, int(info.st_mtime))
                elif stat.S_ISLNK(info.st_mode):
                    files[rel] = ("symlink", mode, info.st_uid, info.st_gid, os.readlink(path), 0)
                else:
                    files[rel] = ("file", mode, info.st_uid, info.st_gid, path.read_bytes(), int(info.st_mtime))
        return files
    finally:
        views.close()
