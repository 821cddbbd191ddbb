"""USER resolution by docker's rules, and the shape of the generated runtime spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamina.errors import RuntimeError_
from lamina.runtime.spec import (
    DEFAULT_CAPABILITIES,
    Mount,
    ProcessSpec,
    Resources,
    container_env,
    runtime_spec,
)
from lamina.runtime.users import ExecUser, parse_group, parse_passwd, resolve_user

from .conftest import GROUP, PASSWD


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(PASSWD + "\n  \nbroken-line\n")
    (tmp_path / "etc" / "group").write_text("# a comment\n" + GROUP)
    return tmp_path


@pytest.mark.parametrize(("spec", "expected"), [
    ("", ExecUser(0, 0, (0,), "/root")),
    ("root", ExecUser(0, 0, (0,), "/root")),
    ("alice", ExecUser(1000, 1000, (1000, 50, 29), "/home/alice")),
    ("1000", ExecUser(1000, 1000, (1000, 50, 29), "/home/alice")),
    ("alice:staff", ExecUser(1000, 50, (50,), "/home/alice")),  # an explicit group drops the others
    ("alice:7", ExecUser(1000, 7, (7,), "/home/alice")),
    ("4242", ExecUser(4242, 0, (0,), "/")),
    ("4242:4343", ExecUser(4242, 4343, (4343,), "/")),
    ("nobody:nogroup", ExecUser(65534, 65534, (65534,), "/")),
])
def test_user_specs_resolve_like_docker(rootfs: Path, spec: str, expected: ExecUser):
    assert resolve_user(rootfs, spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("mallory", "unable to find user mallory: no matching entries in passwd file"),
    ("alice:wheel", "unable to find group wheel: no matching entries in group file"),
    ("-1", "out of range"),
])
def test_unknown_names_are_dockers_errors(rootfs: Path, spec: str, message: str):
    with pytest.raises(RuntimeError_, match=message):
        resolve_user(rootfs, spec)


def test_an_image_without_passwd_knows_only_numbers(tmp_path: Path):
    assert resolve_user(tmp_path, "") == ExecUser(0, 0, (0,), "/")
    assert resolve_user(tmp_path, "12:34") == ExecUser(12, 34, (34,), "/")
    with pytest.raises(RuntimeError_, match="unable to find user app"):
        resolve_user(tmp_path, "app")


def test_passwd_is_read_inside_the_root_through_symlinks(tmp_path: Path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "passwd").write_text("app:x:7:8::/app:/bin/sh\n")
    (tmp_path / "etc" / "passwd").symlink_to("/real/passwd")  # absolute: relative to the rootfs
    assert resolve_user(tmp_path, "app") == ExecUser(7, 8, (8,), "/app")


def test_passwd_and_group_parsing_tolerates_short_and_bad_lines():
    assert [(e.name, e.uid, e.gid) for e in parse_passwd("a:x:1\nb:x:zz:2:::\n")] == [("a", 1, 0), ("b", 0, 2)]
    assert [(g.name, g.gid, g.members) for g in parse_group("#c\ng:x:3:u,v\nh:x:4:\n")] == [
        ("g", 3, ("u", "v")), ("h", 4, ())]


def test_env_starts_with_dockers_defaults_and_keeps_the_images_order():
    env = container_env(["B=2", "A=1", "HOSTNAME=mine"], hostname="abc", home="/root")
    assert env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=mine", "B=2",
                   "A=1", "HOME=/root"]


def _spec(**kwargs):
    return runtime_spec(rootfs=Path("/r"), process=ProcessSpec(args=["sh"]), user=ExecUser(1, 2, (2, 3)),
                        hostname="h", **kwargs)


def test_spec_has_dockers_capabilities_namespaces_and_mounts():
    spec = _spec(network="none")
    assert spec["process"]["capabilities"]["bounding"] == list(DEFAULT_CAPABILITIES)
    assert spec["process"]["user"] == {"uid": 1, "gid": 2, "additionalGids": [2, 3]}
    assert {ns["type"] for ns in spec["linux"]["namespaces"]} == {"pid", "ipc", "uts", "mount", "network"}
    destinations = [m["destination"] for m in spec["mounts"]]
    assert destinations[:7] == ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    assert "/proc/kcore" in spec["linux"]["maskedPaths"] and "/proc/sys" in spec["linux"]["readonlyPaths"]


def test_host_network_shares_the_namespace():
    assert "network" not in {ns["type"] for ns in _spec(network="host")["linux"]["namespaces"]}


def test_resources_become_cgroup_limits():
    spec = _spec(resources=Resources(memory_bytes=64 << 20, nano_cpus=1_500_000_000, pids_limit=100))
    resources = spec["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 << 20}
    assert resources["cpu"] == {"period": 100_000, "quota": 150_000}
    assert resources["pids"] == {"limit": 100}


def test_extra_mounts_follow_the_defaults():
    spec = _spec(mounts=[Mount.bind("/src", "/dst"), Mount.tmpfs("/t", size_bytes=1024)])
    assert spec["mounts"][-2:] == [
        {"destination": "/dst", "type": "bind", "source": "/src", "options": ["rbind", "ro", "nosuid", "nodev"]},
        {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=1024"]},
    ]
