"""``docker build`` flags for the RUN containers (--add-host, --ulimit, --shm-size, -m,
--memory-swap, -c, --cpuset-cpus, --cpu-period, --cpu-quota, --security-opt), the flags docker's
classic builder accepts and ignores, and what a RUN without --network sees of its identity."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lamina.api import Client
from lamina.build import events
from lamina.errors import LaminaError
from lamina.runtime.hostflags import build_host_config
from tests.conftest import Lamina

DEFAULT_HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                 "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


def build(client: Client, context: Path, dockerfile: str, **options) -> tuple[str, str, list]:
    """(image ID, what the RUN steps printed, the events)."""
    (context / "Dockerfile").write_text(dockerfile)
    seen: list = []
    result = client.build(str(context), tags=("bx/flags",), progress=seen.append, **options)
    output = b"".join(e.data for e in seen if isinstance(e, events.StepOutput)).decode()
    return result.image_id, output, seen


def test_run_containers_get_the_limits_and_hosts_given(client: Client, ctx: Path) -> None:
    host_config = build_host_config(add_hosts=["foo:1.2.3.4"], ulimits=["nofile=100:200"], shm_size="2m",
                                    memory="64m", cpu_shares=512, cpu_quota=50000, cpu_period=100000,
                                    cpuset_cpus="0", security_opt=["no-new-privileges=true"])
    script = ("ulimit -n; ulimit -Hn; busybox grep ' /dev/shm ' /proc/mounts; busybox tail -n1 /etc/hosts;"
              " busybox grep NoNewPrivs /proc/self/status; cd /sys/fs/cgroup;"
              " cat memory/memory.limit_in_bytes cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us"
              " cpuset/cpuset.cpus")
    _, output, _ = build(client, ctx, f"FROM busybox\nRUN {script}\n", no_cache=True, run_host_config=host_config)
    lines = output.splitlines()
    assert lines[:2] == ["100", "200"]
    assert "size=2048k" in lines[2]
    assert lines[3] == "1.2.3.4\tfoo"
    assert lines[4].split() == ["NoNewPrivs:", "1"]
    assert lines[5:] == [str(64 << 20), "512", "50000", "100000", "0"]


def test_memory_swap_defaults_to_twice_the_memory_as_docker() -> None:
    assert build_host_config(memory="64m") == {"Memory": 64 << 20, "MemorySwap": 128 << 20}
    assert build_host_config(memory="64m", memory_swap="-1")["MemorySwap"] == -1


def test_run_flags_do_not_change_the_cache_key(client: Client, ctx: Path) -> None:
    dockerfile = "FROM busybox\nRUN echo built > /f\n"
    first, _, _ = build(client, ctx, dockerfile)
    host_config = build_host_config(add_hosts=["foo:1.2.3.4"], ulimits=["nofile=100"], memory="64m",
                                    security_opt=["seccomp=unconfined"])
    again, _, seen = build(client, ctx, dockerfile, run_host_config=host_config)
    assert again == first
    assert [e.cached for e in seen if isinstance(e, events.StepFinished)] == [False, True]


@pytest.mark.parametrize(("options", "message"), [
    ({"memory": "1k"}, "Minimum memory limit allowed is 6MB"),
    ({"memory_swap": "1g"}, "You should always set the Memory limit when using Memoryswap limit, see usage"),
    ({"memory": "64m", "memory_swap": "32m"}, "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ({"cpu_quota": 500}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    ({"ulimits": ["nofile"]}, 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile'),
    ({"shm_size": "x"}, "invalid argument \"x\" for \"--shm-size\" flag: invalid size: 'x'"),
    ({"add_hosts": ["foo"]}, 'invalid argument "foo" for "--add-host" flag: bad format for add-host: "foo"'),
])
def test_bad_run_flags_are_refused_in_dockers_words(options, message) -> None:
    with pytest.raises(LaminaError) as refused:
        build_host_config(**options)
    assert str(refused.value) == message


@pytest.fixture
def cli(client: Client) -> Lamina:
    return Lamina(Path(client.store.root))


def test_cli_takes_the_flags_and_the_accepted_no_ops(cli: Lamina, ctx: Path) -> None:
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN ulimit -n; busybox tail -n1 /etc/hosts\n")
    result = cli.run("build", "--no-cache", "--progress", "plain", "--ulimit", "nofile=123", "--add-host",
                     "bar:5.6.7.8", "-m", "64m", "--memory-swap", "-1", "-c", "512", "--cpuset-cpus", "0",
                     "--cpu-period", "100000", "--cpu-quota", "50000", "--shm-size", "1m", "--security-opt",
                     "seccomp=unconfined", "--compress", "--disable-content-trust", "--isolation", "default",
                     "--cgroup-parent", "whatever", str(ctx))
    text = result.stdout.decode()
    assert "\n123\n5.6.7.8\tbar\n" in text


def test_cli_refuses_an_isolation_other_than_default(cli: Lamina, ctx: Path) -> None:
    (ctx / "Dockerfile").write_text("FROM busybox\n")
    stderr = cli.fails("build", "--isolation", "hyperv", str(ctx))
    assert stderr == 'lamina: error: Unsupported isolation: "hyperv"\n'


def test_default_run_has_its_own_hostname_and_dockers_hosts_file(client: Client, ctx: Path) -> None:
    _, output, seen = build(client, ctx, "FROM busybox\nRUN busybox hostname; cat /etc/hostname /etc/hosts\n",
                            no_cache=True)
    short_id = next(e.container_id for e in seen if isinstance(e, events.RunStarted))[:12]
    assert output == f"{short_id}\n{short_id}\n{DEFAULT_HOSTS}"


def test_host_network_run_keeps_the_hosts_name_and_file(client: Client, ctx: Path) -> None:
    import os

    _, output, _ = build(client, ctx, "FROM busybox\nRUN busybox hostname; cat /etc/hosts\n", no_cache=True,
                         network="host")
    assert output == os.uname().nodename + "\n" + Path("/etc/hosts").read_text()


def test_default_run_identity_matches_docker(client: Client, ctx: Path, docker) -> None:
    archive = subprocess.run([sys.executable, "-m", "lamina", "--root", str(client.store.root), "save",
                              "busybox:latest"], capture_output=True, check=True).stdout
    docker.run("load", input=archive)
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN busybox hostname; cat /etc/hostname /etc/hosts\n")
    theirs = docker.out("build", "--no-cache", str(ctx))
    running = re.search(r"Running in ([0-9a-f]{12})\n(.*?)(?:Removing intermediate| ---> )", theirs, re.S)
    assert running, theirs
    _, mine, seen = build(client, ctx, (ctx / "Dockerfile").read_text(), no_cache=True, builder="classic")
    short_id = next(e.container_id for e in seen if isinstance(e, events.RunStarted))[:12]
    assert mine == running.group(2).replace(running.group(1), short_id)


@pytest.mark.parametrize("flags", [["--ulimit", "nofile=1"], ["-m", "64m"], ["--compress"], ["--add-host", "a:1.2.3.4"],
                                   ["--isolation", "default"], ["--security-opt", "seccomp=unconfined"]])
def test_the_fast_door_leaves_these_flags_to_click(flags) -> None:
    from lamina.cli.fastbuild import _parse

    assert _parse(["build", ".", *flags]) is None
    assert _parse(["build", "."]) is not None


def test_a_cached_rebuild_with_run_flags_gives_the_same_image(cli: Lamina, ctx: Path) -> None:
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo x > /x\n")
    first = cli.out("build", "-q", str(ctx)).strip()
    again = cli.out("build", "-q", "-m", "64m", "--ulimit", "nofile=100", "--add-host", "a:1.2.3.4", str(ctx)).strip()
    assert again == first
