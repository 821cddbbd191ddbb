"""RUN --mount staging without a container: cache dirs, sharing modes, secrets, bind sources."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lamina.build.dockerfile.mounts import parse_mount
from lamina.build.run_mounts import RunMounts
from lamina.errors import BuildError
from lamina.store.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "store")
    yield store
    store.close()


def _mounts(store: Store, *specs: str, secrets=None, context=None) -> RunMounts:
    return RunMounts(store, [parse_mount(spec) for spec in specs], secrets=secrets or {}, context_dir=context,
                     stage_layers=None)


def test_a_cache_dir_is_made_once_with_its_owner_and_mode_and_kept(store: Store, tmp_path: Path):
    with _mounts(store, "type=cache,target=/c,uid=7,gid=8,mode=0750") as first:
        [mount] = first.prepare(tmp_path / "s1")
    st = os.stat(mount.source)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (7, 8, 0o750)
    assert mount.destination == "/c" and "rw" in mount.options
    with _mounts(store, "type=cache,target=/c,uid=7,gid=8,mode=0750") as second:
        [again] = second.prepare(tmp_path / "s2")
    assert again.source == mount.source  # the id defaults to the target
    with _mounts(store, "type=cache,id=/c,target=/elsewhere") as third:
        [other] = third.prepare(tmp_path / "s3")
    assert other.source != mount.source  # as in BuildKit, another owner/mode is another cache


def test_a_private_cache_in_use_gives_a_throwaway_dir(store: Store, tmp_path: Path):
    with _mounts(store, "type=cache,target=/c,sharing=private") as holder:
        [held] = holder.prepare(tmp_path / "s1")
        with _mounts(store, "type=cache,target=/c,sharing=private") as other:
            [fresh] = other.prepare(tmp_path / "s2")
        assert fresh.source != held.source and fresh.source.startswith(str(tmp_path / "s2"))
    with _mounts(store, "type=cache,target=/c,sharing=private") as later:
        assert later.prepare(tmp_path / "s3")[0].source == held.source


def test_secrets_are_copied_with_their_mode_and_missing_ones_skipped_unless_required(store: Store, tmp_path: Path):
    secret = tmp_path / "token"
    secret.write_text("value")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with _mounts(store, "type=secret,id=token", "type=secret,id=absent", secrets={"token": secret}) as run_mounts:
        [mount] = run_mounts.prepare(scratch)
    assert mount.destination == "/run/secrets/token" and "ro" in mount.options
    assert stat.S_IMODE(os.stat(mount.source).st_mode) == 0o400
    with _mounts(store, "type=secret,id=absent,required") as run_mounts, pytest.raises(BuildError, match="absent"):
        run_mounts.prepare(scratch)


def test_secret_env_exposes_the_value_without_a_file(store: Store, tmp_path: Path):
    secret = tmp_path / "token"
    secret.write_text("value")
    with _mounts(store, "type=secret,id=token,env=TOKEN", secrets={"token": secret}) as run_mounts:
        assert run_mounts.secret_env() == ["TOKEN=value"]
        assert run_mounts.prepare(tmp_path / "scratch") == []


def test_bind_sources_stay_inside_the_context(store: Store, tmp_path: Path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "escape").symlink_to("/etc")
    with _mounts(store, "type=bind,source=escape/passwd,target=/p", context=context) as run_mounts:
        with pytest.raises(BuildError, match="not found"):
            run_mounts.prepare(tmp_path / "scratch")
