"""``lamina build`` behaviours docker's classic builder cannot judge (BuildKit-only syntax, the
cache, downloads, stdin) or that need no docker to check: each test builds a small Dockerfile
on busybox and reads the image's files and config back from the store."""

from __future__ import annotations

import bz2
import email.utils
import functools
import gzip
import http.server
import io
import json
import lzma
import os
import tarfile
import threading
from pathlib import Path

import pytest

from lamina.api import Client
from lamina.build import events
from lamina.build.copy import is_archive
from lamina.errors import BuildError, LaminaError
from tests.buildexec.conftest import image_files, write


def build(client: Client, context: Path, dockerfile: str, *tags: str, **options) -> tuple[str, list]:
    (context / "Dockerfile").write_text(dockerfile)
    seen: list = []
    result = client.build(str(context), tags=tags or ("bx/test",), progress=seen.append, **options)
    return result.image_id, seen


def config_of(client: Client, image_id: str) -> dict:
    return json.loads(client.store.config_bytes(image_id))


def test_rebuild_reuses_every_step_until_a_source_changes(client: Client, ctx: Path) -> None:
    write(ctx, {"a.txt": "one\n", "b.txt": "two\n"})
    dockerfile = "FROM busybox\nENV X=1\nCOPY a.txt /a\nCOPY b.txt /b\nLABEL l=1\n"
    first, _ = build(client, ctx, dockerfile)
    again, seen = build(client, ctx, dockerfile)
    assert again == first
    assert [e.cached for e in seen if isinstance(e, events.StepFinished)] == [False, True, True, True, True]
    (ctx / "a.txt").touch()  # mtimes are not part of the key
    assert build(client, ctx, dockerfile)[0] == first
    (ctx / "b.txt").write_text("changed\n")
    changed, seen = build(client, ctx, dockerfile)
    assert changed != first
    assert [e.cached for e in seen if isinstance(e, events.StepFinished)] == [False, True, True, False, False]
    fresh, seen = build(client, ctx, dockerfile, no_cache=True)
    assert fresh != changed and not any(e.cached for e in seen if isinstance(e, events.StepFinished))


def test_a_same_size_edit_with_the_old_mtime_still_misses_the_cache(client: Client, ctx: Path) -> None:
    write(ctx, {"a.txt": "aaaa\n"})
    dockerfile = "FROM busybox\nCOPY a.txt /a\n"
    first, _ = build(client, ctx, dockerfile)
    before = (ctx / "a.txt").stat()
    (ctx / "a.txt").write_text("bbbb\n")
    os.utime(ctx / "a.txt", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert build(client, ctx, dockerfile)[0] != first


def test_each_step_is_an_image_whose_parent_is_the_step_before(client: Client, ctx: Path) -> None:
    write(ctx, {"a.txt": "a\n"})
    image_id, _ = build(client, ctx, "FROM busybox\nENV X=1\nCOPY a.txt /a\n", no_cache=True)
    parent = client.store.image(image_id).parent
    grandparent = client.store.image(parent).parent
    assert grandparent == client.store.resolve("busybox")
    config = config_of(client, image_id)
    assert config["config"]["Image"] == parent
    assert config["container_config"]["Cmd"][:3] == ["/bin/sh", "-c", config["history"][-1]["created_by"][len("/bin/sh -c "):]]
    assert [entry.get("empty_layer", False) for entry in config["history"]] == [False, True, False]


def test_heredoc_sources_expand_unless_quoted(client: Client, ctx: Path, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox\nENV NAME=world\n"
        "COPY <<EOF /greeting\nhello $NAME\nEOF\n"
        "COPY <<-\"EOF\" <<OTHER /docs/\n\tliteral $NAME\n\tEOF\nsecond\nOTHER\n"
    )
    build(client, ctx, dockerfile, "bx/heredoc")
    files = image_files(client, "bx/heredoc", tmp_path)
    assert files["greeting"][:5] == ("file", 0o644, 0, 0, b"hello world\n")
    assert files["docs/EOF"][4] == b"literal $NAME\n"
    assert files["docs/OTHER"][4] == b"second\n"


def test_copy_parents_exclude_and_chmod(client: Client, ctx: Path, tmp_path: Path) -> None:
    write(ctx, {"src/a/one.txt": "1", "src/a/skip.md": "x", "src/b/two.txt": "2", "top.md": "t"})
    dockerfile = (
        "FROM busybox\n"
        "COPY --parents src/*/*.txt /kept/\n"
        "COPY --parents src/./a/one.txt /pivot/\n"
        "COPY --exclude=*.md src/a /filtered/\n"
        "COPY --chmod=700 top.md /private\n"
    )
    build(client, ctx, dockerfile, "bx/parents")
    files = image_files(client, "bx/parents", tmp_path)
    assert files["kept/src/a/one.txt"][4] == b"1" and files["kept/src/b/two.txt"][4] == b"2"
    assert "kept/src/a/skip.md" not in files
    assert "pivot/a/one.txt" in files and "pivot/src" not in files
    assert "filtered/one.txt" in files and "filtered/skip.md" not in files
    assert files["private"][1] == 0o700


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, lambda data: data])
def test_add_unpacks_local_archives_and_copy_does_not(client: Client, ctx: Path, tmp_path: Path, compress) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("inner/file")
        info.size, info.uid, info.mode = 5, 42, 0o640
        tar.addfile(info, io.BytesIO(b"hello"))
    write(ctx, {"pack.tar": compress(buffer.getvalue())})
    build(client, ctx, "FROM busybox\nADD pack.tar /x/\nCOPY pack.tar /y/\nADD --unpack=false pack.tar /z/\n",
          "bx/archive")
    files = image_files(client, "bx/archive", tmp_path)
    assert files["x/inner/file"][:5] == ("file", 0o640, 42, 0, b"hello")
    assert files["y/pack.tar"][0] == "file" and files["z/pack.tar"][0] == "file"


def test_only_real_tar_archives_are_unpacked(tmp_path: Path) -> None:
    (tmp_path / "text.tar").write_text("not a tar, even if named so\n" * 40)
    empty = io.BytesIO()
    tarfile.open(fileobj=empty, mode="w").close()
    (tmp_path / "empty.tar").write_bytes(empty.getvalue())
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 100)
    assert not any(is_archive(tmp_path / name) for name in ("text.tar", "empty.tar", "bad.gz"))


@pytest.fixture
def web(tmp_path: Path):
    """A local HTTP server for ADD <url>: files under ``root``, Last-Modified from their mtime."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_add_url_downloads_with_mode_0600_and_the_server_mtime(client: Client, ctx: Path, tmp_path: Path, web) -> None:
    root, url = web
    (root / "payload.tar").write_bytes(gzip.compress(b"not unpacked either way"))
    modified = 1_600_000_000
    os.utime(root / "payload.tar", (modified, modified))
    build(client, ctx, f"FROM busybox\nADD {url}/payload.tar /dl/\nADD {url}/payload.tar /named\n", "bx/url")
    files = image_files(client, "bx/url", tmp_path)
    assert files["dl/payload.tar"][1:4] == (0o600, 0, 0)
    assert files["dl/payload.tar"][5] == modified
    assert files["named"][0] == "file"
    assert email.utils.formatdate(modified, usegmt=True)  # the server sent it as Last-Modified


def test_add_url_checksum_is_verified(client: Client, ctx: Path, web) -> None:
    root, url = web
    (root / "f").write_text("content")
    good = "sha256:ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73"
    build(client, ctx, f"FROM busybox\nADD --checksum={good} {url}/f /f\n")
    with pytest.raises(BuildError, match=r"Dockerfile:2: ADD failed: digest mismatch"):
        build(client, ctx, f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {url}/f /f\n")


def test_only_the_stages_the_target_needs_are_built(client: Client, ctx: Path) -> None:
    write(ctx, {"a": "a"})
    dockerfile = (
        "FROM busybox AS base\nCOPY a /a\n"
        "FROM scratch AS broken\nCOPY missing /nowhere\n"
        "FROM base\nCOPY --from=base /a /b\n"
    )
    _, seen = build(client, ctx, dockerfile)
    steps = [e.text for e in seen if isinstance(e, events.StepStarted)]
    assert steps == ["FROM busybox AS base", "COPY a /a", "FROM base", "COPY --from=base /a /b"]


def test_from_scratch_gets_the_default_path_and_the_host_platform(client: Client, ctx: Path) -> None:
    write(ctx, {"a": "a"})
    image_id, _ = build(client, ctx, "FROM scratch\nCOPY a /a\n")
    config = config_of(client, image_id)
    assert config["config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert config["os"] == "linux" and config["architecture"]
    with pytest.raises(BuildError, match="No image was generated"):
        build(client, ctx, "FROM scratch\n")


def test_a_missing_base_image_names_the_from_line(client: Client, ctx: Path) -> None:
    with pytest.raises(LaminaError, match=r"^Dockerfile:3: No such image: no/such-image:1"):
        build(client, ctx, "FROM busybox\nENV A=1\nFROM no/such-image:1\n", pull=False)


def test_labels_from_the_command_line_are_the_last_steps(client: Client, ctx: Path) -> None:
    image_id, seen = build(client, ctx, "FROM busybox\nLABEL a=1\n", labels=["z=last", "b=2"])
    assert config_of(client, image_id)["config"]["Labels"] == {"a": "1", "b": "2", "z": "last"}
    assert [e.text for e in seen if isinstance(e, events.StepStarted)][-2:] == ["LABEL b=2", "LABEL z=last"]


def test_context_tar_and_dockerfile_from_a_stream(client: Client, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY hello /hello\n"), ("hello", b"hi\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    result = client.build(buffer, tags=["bx/stream"])
    assert image_files(client, "bx/stream", tmp_path)["hello"][4] == b"hi\n"
    bare = io.BytesIO(b"FROM busybox\nENV FROM_STDIN=1\n")
    result = client.build(bare, tags=["bx/bare"])
    assert "FROM_STDIN=1" in config_of(client, result.image_id)["config"]["Env"]


def test_removing_the_image_removes_its_step_images(client: Client, ctx: Path) -> None:
    write(ctx, {"a": "a"})
    client.prune_images()  # earlier tests' images whose tags moved on
    build(client, ctx, "FROM busybox\nENV ONLY_HERE=1\nCOPY a /only-here\n", "bx/removable", no_cache=True)
    before = {record.id for record in client.store.list_images()}
    assert client.prune_images().deleted == []  # step images are parents, not dangling
    client.remove_images(["bx/removable"])
    after = {record.id for record in client.store.list_images()}
    assert len(before - after) == 2 and client.store.resolve("busybox")
