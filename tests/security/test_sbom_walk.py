"""The layer walker: the final filesystem of an image, restricted to the wanted files."""

from __future__ import annotations

import os

import pytest

from lamina.security.sbom import catalog_image
from lamina.security.sbom import walk as walk_module
from lamina.security.sbom.walk import build_view
from tests.security.conftest import MemoryImage, layer_tar

_REPLAY_CACHE: list = []  # the layer cache of the "replayed" mode, while its test runs


@pytest.fixture(autouse=True, params=["in-memory", "on-disk", "replayed"])
def spooling(request, monkeypatch, tmp_path):
    """Every walker test three times: small files held in memory, every file in a temp file, and
    the view rebuilt from the layer cache entries a first walk recorded (no layer read)."""
    if request.param == "on-disk":
        monkeypatch.setattr(walk_module, "MAX_MEMORY_FILE", -1)
    if request.param == "replayed":
        from lamina.store.layercache import LayerCache

        _REPLAY_CACHE.append(LayerCache(tmp_path, "sbom", "test"))
        yield request.param
        _REPLAY_CACHE.clear()
        return
    yield request.param


def view_of(*layers, wants=lambda path, mode, size: path.startswith("db/"), warnings=None):
    image = MemoryImage([layer_tar(members) for members in layers])
    pairs = [(layer.diff_id, layer.open_uncompressed) for layer in image.layers()]
    if not _REPLAY_CACHE:
        return image, build_view(pairs, wants, on_warning=(warnings.append if warnings is not None else None))
    cache = _REPLAY_CACHE[0]
    recorded: list[str] = []
    build_view(pairs, wants, on_warning=recorded.append, cache=cache).close()
    assert all(cache.entry(diff_id) for diff_id, _ in pairs)

    def unread(diff_id):
        def fail():
            raise AssertionError(f"layer {diff_id} was read although it is cached")
        return fail

    replayed: list[str] = []
    view = build_view([(diff_id, unread(diff_id)) for diff_id, _ in pairs], wants,
                      on_warning=replayed.append, cache=cache)
    assert replayed == recorded  # the same warnings, in the same order
    if warnings is not None:
        warnings.extend(replayed)
    return image, view


def test_wanted_files_are_spooled_and_others_are_not():
    image, view = view_of([("db/a", b"A"), ("./etc/other", b"x"), ("/db/b", b"B")])
    with view:
        assert view.paths() == ["db/a", "db/b"]
        assert view.read("db/a") == b"A"
        assert not view.exists("etc/other")
        assert view.layer_of("db/b") == image.layers()[0].diff_id
        spool_dir = view._dir
    assert not os.path.exists(spool_dir)


def test_a_later_layer_overwrites_and_keeps_history():
    image, view = view_of([("db/a", b"old")], [("db/a", b"new")])
    with view:
        first, second = (layer.diff_id for layer in image.layers())
        assert view.read("db/a") == b"new"
        assert view.layer_of("db/a") == second
        assert view.history("db/a") == [first, second]
        with view.open_version("db/a", first) as old:
            assert old.read() == b"old"


def test_a_whiteout_deletes_a_file_and_a_directory():
    _, view = view_of([("db/a", b"A"), ("db/sub/b", b"B"), ("db/sub/c", b"C")],
                      [("db/.wh.a", b""), ("db/.wh.sub", b"")])
    with view:
        assert view.paths() == []


def test_an_opaque_directory_hides_lower_layers_but_not_its_own_files():
    _, view = view_of([("db/a", b"A"), ("db/keep", b"K")],
                      [("db/.wh..wh..opq", b""), ("db/new", b"N")])
    with view:
        assert view.paths() == ["db/new"]


def test_a_whiteout_does_not_delete_the_same_layers_file():
    _, view = view_of([("db/a", b"A")], [("db/a", b"A2"), ("db/.wh.a", b"")])
    with view:
        assert view.read("db/a") == b"A2"


def test_a_file_replacing_a_directory_drops_its_children():
    _, view = view_of([("db/sub/x", b"X")], [("db/sub", b"now a file")])
    with view:
        assert view.paths() == ["db/sub"]


def test_symlinks_are_followed_inside_the_view_only():
    _, view = view_of([("db/real", b"R"), ("db/rel", "real"), ("db/abs", "/db/real"),
                       ("db/escape", "../../../../db/real"), ("db/dir", "/db"),
                       ("db/loop1", "loop2"), ("db/loop2", "loop1"), ("db/host", "/etc/passwd")])
    with view:
        for link in ("db/rel", "db/abs", "db/escape", "db/dir/real", "db/dir/dir/dir/real"):
            assert view.read(link) == b"R", link
        assert view.readlink("db/abs") == "/db/real"
        for missing in ("db/loop1", "db/host"):
            assert not view.exists(missing)
            with pytest.raises(FileNotFoundError):
                view.open(missing)


def test_files_over_the_spool_limit_are_skipped_with_a_warning(monkeypatch):
    monkeypatch.setattr(walk_module, "MAX_SPOOL_FILE", 4)
    warnings: list[str] = []
    _, view = view_of([("db/small", b"1234"), ("db/big", b"12345")], warnings=warnings)
    with view:
        assert view.paths() == ["db/small"]
    assert len(warnings) == 1 and "db/big" in warnings[0]


def test_hard_links_to_wanted_files_are_readable():
    import io
    import tarfile
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("db/a")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"A"))
        link = tarfile.TarInfo("db/b")
        link.type, link.linkname = tarfile.LNKTYPE, "db/a"
        tar.addfile(link)
    image = MemoryImage([out.getvalue()])
    with build_view([(layer.diff_id, layer.open_uncompressed) for layer in image.layers()],
                    lambda path, mode, size: path.startswith("db/")) as view:
        assert view.read("db/b") == b"A"


class _Recorder:
    name = "recorder"

    def wants(self, path, mode, size):
        return path == "db/list"

    def catalog(self, files, os):
        from lamina.security.inventory import Package
        return [Package(name=line, version="1", kind="test", ecosystem="test", purl=f"pkg:generic/{line}@1",
                        layer_diff_id=files.layer_of("db/list"))
                for line in files.read("db/list").decode().split()]


def test_catalog_image_runs_the_given_catalogers_over_the_final_filesystem():
    image = MemoryImage([layer_tar([("db/list", b"a b")]), layer_tar([("db/list", b"a c")])])
    inventory = catalog_image(image, [_Recorder()])
    assert [p.name for p in inventory.packages] == ["a", "c"]
    assert {p.layer_diff_id for p in inventory.packages} == {image.layers()[1].diff_id}
    assert inventory.diff_ids == [layer.diff_id for layer in image.layers()]
    assert inventory.image_id == image.config_digest()


def test_local_path_is_a_file_with_the_content():
    _, view = view_of([("db/a", b"A" * 1000)])
    with view:
        with open(view.local_path("db/a"), "rb") as handle:
            assert handle.read() == b"A" * 1000
        assert view.read("db/a") == b"A" * 1000


def test_the_memory_budget_sends_the_rest_to_disk(monkeypatch):
    monkeypatch.setattr(walk_module, "MEMORY_BUDGET", 10)
    _, view = view_of([("db/a", b"12345678"), ("db/b", b"12345678")])
    with view:
        kinds = {path: type(view._entries[path].spool) for path in view.paths()}
        assert view.read("db/a") == view.read("db/b") == b"12345678"
        assert view._memory <= 10
    assert bytes in kinds.values() or walk_module.MAX_MEMORY_FILE < 0
    assert str in kinds.values()


@pytest.mark.parametrize("name", ["./usr/bin/x", "/usr/bin/", "usr//bin", "./", ".", "..", "../../etc/passwd",
                                  "a/./b", "a/../b", ".hidden/x", "a/.b", "./.wh.x", "a/b/..", "//x//y//"])
def test_member_names_normalise_as_a_rooted_normpath(name):
    import posixpath

    expected = posixpath.normpath("/" + name).lstrip("/")
    assert walk_module.normalise_path(name) == ("" if expected == "." else expected)


def test_the_number_of_recorded_paths_is_bounded(monkeypatch):
    monkeypatch.setattr(walk_module, "MAX_ENTRIES", 10)
    warnings: list[str] = []
    _, view = view_of([(f"db/link{i}", "target") for i in range(20)] + [("db/late", b"x")], warnings=warnings)
    with view:
        assert len(view._entries) == 10 and not view.exists("db/late")
    assert len(warnings) == 1 and "more than 10" in warnings[0]
