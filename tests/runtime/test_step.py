"""Running processes on top of image layers with real runc and overlayfs, and committing what
they changed."""

from __future__ import annotations

import socket
import tarfile
from pathlib import Path

import pytest

from lamina.errors import RuntimeError_
from lamina.layer.apply import apply_layer
from lamina.runtime.spec import Mount
from lamina.runtime.step import EMPTY_LAYER_DIFF_ID, commit_upper
from lamina.store.store import Store

from .helpers import mounts_containing, run, tree


def test_exit_code_and_output_are_the_processes(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "echo out; echo err >&2; exit 3")
    with result:
        assert result.exit_code == 3
        # runc relays stdout and stderr through separate pipes: their relative order is not
        # kept (neither is it by docker), each stream's own order is.
        assert sorted(output.splitlines()) == ["err", "out"]


def test_environment_is_dockers_path_hostname_home_then_the_images(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "env", env=["FOO=bar", "PATH=/bin"], network="none")
    with result:
        env = dict(line.split("=", 1) for line in output.splitlines())
        assert env["FOO"] == "bar"
        assert env["PATH"] == "/bin"  # the image's PATH replaces docker's default
        assert env["HOME"] == "/root"
        assert env["HOSTNAME"] == result.container_id[:12]


def test_working_directory(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "pwd", cwd="/home/alice")
    with result:
        assert output == "/home/alice\n"


def test_user_by_name_gets_its_groups_and_home(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "id -u; id -g; id -G; echo $HOME", user="alice")
    with result:
        uid, gid, groups, home = output.split("\n")[:4]
        assert (uid, gid, home) == ("1000", "1000", "/home/alice")
        assert sorted(groups.split()) == ["1000", "29", "50"]  # primary first, then members of


def test_user_as_uid_and_gid_needs_no_passwd_entry(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "id -u; id -g; echo $HOME", user="1234:5678")
    with result:
        assert output.split("\n")[:3] == ["1234", "5678", "/"]


def test_unknown_user_is_dockers_error(store: Store, base_layers: list[str]):
    with pytest.raises(RuntimeError_, match="unable to find user mallory: no matching entries in passwd file"):
        run(store, base_layers, "true", user="mallory")


def test_proc_is_the_containers_own_with_masked_and_read_only_paths(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "stat -c %N /proc/1/exe; stat -c %t:%T /proc/keys; "
                                             "(echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo writable", network="none")
    with result:
        lines = output.split("\n")
        assert "/bin/busybox" in lines[0]  # pid 1 is our own shell
        assert lines[1] == "1:3"  # /proc/keys masked by /dev/null
        assert "writable" not in output  # /proc/sys is read-only


def test_hostname_is_the_short_id_without_host_networking(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "hostname; cat /etc/hostname", network="none")
    with result:
        assert output.split() == [result.container_id[:12]] * 2


def test_hostname_is_the_hosts_with_host_networking(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "hostname", network="host")
    with result:
        assert output.strip() == socket.gethostname()


def test_network_none_has_only_loopback(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "cat /proc/net/dev", network="none")
    with result:
        interfaces = [line.split(":")[0].strip() for line in output.splitlines()[2:]]
        assert interfaces == ["lo"]


def test_network_host_shares_the_hosts_interfaces(store: Store, base_layers: list[str]):
    host = {line.split(":")[0].strip() for line in Path("/proc/net/dev").read_text().splitlines()[2:]}
    result, output = run(store, base_layers, "cat /proc/net/dev", network="host")
    with result:
        assert {line.split(":")[0].strip() for line in output.splitlines()[2:]} == host


def test_default_capabilities_are_dockers(store: Store, base_layers: list[str]):
    result, output = run(store, base_layers, "grep CapEff /proc/self/status")
    with result:
        assert output.split()[1] == "00000000a80425fb"  # docker's default set


def test_timeout_kills_the_container_which_exits_128_plus_sigkill(store: Store, base_layers: list[str]):
    result, _ = run(store, base_layers, "sleep 30", timeout=0.5)
    with result:
        assert result.exit_code == 137
        assert result.seconds < 10


def test_changes_become_a_layer_with_whiteouts_and_opaque_dirs(store: Store, base_layers: list[str],
                                                               base_tar: bytes, tmp_path: Path):
    script = ("rm /data/gone && echo new > /data/replaced && rm -rf /data/keep && mkdir /data/keep && "
              "echo fresh > /data/keep/new-child && mkdir -p /srv && echo hi > /srv/file")
    result, _ = run(store, base_layers, script)
    with result:
        assert result.exit_code == 0
        layer = commit_upper(store, result.upper_dir, result.lowers)
    assert layer is not None and layer.diff_id == layer.blob_digest
    with store.content.open(layer.blob_digest) as blob, tarfile.open(fileobj=blob) as archive:
        names = sorted(archive.getnames())
    assert names == sorted(["data", "data/.wh.gone", "data/replaced", "data/keep", "data/keep/.wh..wh..opq",
                            "data/keep/new-child", "srv", "srv/file"])
    # The runtime's mount points (proc, sys, dev, etc/hosts…) are not the step's work.
    merged = tmp_path / "merged"
    merged.mkdir()
    apply_layer(__import__("io").BytesIO(base_tar), merged)
    with store.content.open(layer.blob_digest) as blob:
        apply_layer(blob, merged)
    listing = tree(merged)
    assert "data/gone" not in listing
    assert listing["data/replaced"] == "new\n"
    assert [p for p in listing if p.startswith("data/keep/")] == ["data/keep/new-child"]
    assert listing["srv/file"] == "hi\n"
    assert not {"proc", "sys", "dev", "etc/hosts", "etc/resolv.conf"} & set(listing)


def test_a_step_that_changes_nothing_commits_no_layer_unless_asked(store: Store, base_layers: list[str]):
    result, _ = run(store, base_layers, "true")
    with result:
        assert commit_upper(store, result.upper_dir, result.lowers) is None
        layer = commit_upper(store, result.upper_dir, result.lowers, keep_empty=True)
    assert layer is not None and layer.diff_id == EMPTY_LAYER_DIFF_ID


def test_nothing_stays_mounted_or_on_disk_after_discard(store: Store, base_layers: list[str]):
    result, _ = run(store, base_layers, "true")
    base = result.upper_dir.parent
    assert not mounts_containing(str(base))  # unmounted as soon as the process ended
    result.discard()
    assert not base.exists()


def test_mounts_are_visible_and_their_stubs_stay_out_of_the_layer(store: Store, base_layers: list[str],
                                                                 tmp_path: Path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    cache = tmp_path / "cache"
    cache.mkdir()
    mounts = [Mount.bind(secret, "/run/secrets/token"), Mount.bind(cache, "/root/.cache", read_only=False),
              Mount.tmpfs("/scratch")]
    result, output = run(store, base_layers, "cat /run/secrets/token; echo c > /root/.cache/f; "
                                             "echo t > /scratch/t; echo x > /tmp/x", mounts=mounts)
    with result:
        assert result.exit_code == 0, output
        assert output == "s3cret"
        assert (cache / "f").read_text() == "c\n"
        layer = commit_upper(store, result.upper_dir, result.lowers)
    assert layer is not None
    with store.content.open(layer.blob_digest) as blob, tarfile.open(fileobj=blob) as archive:
        assert sorted(archive.getnames()) == ["tmp", "tmp/x"]


def test_a_read_only_bind_cannot_be_written(store: Store, base_layers: list[str], tmp_path: Path):
    (tmp_path / "ro").mkdir()
    result, _ = run(store, base_layers, "touch /mnt/ro/x", mounts=[Mount.bind(tmp_path / "ro", "/mnt/ro")])
    with result:
        assert result.exit_code != 0
    assert not (tmp_path / "ro" / "x").exists()


def test_a_missing_executable_is_a_runtime_error(store: Store, base_layers: list[str]):
    from lamina.runtime.spec import ProcessSpec
    from lamina.runtime.step import run_in_snapshot

    with pytest.raises(RuntimeError_, match="no-such-binary"):
        run_in_snapshot(store, base_layers, ProcessSpec(args=["no-such-binary"]))
