"""``run``/``create`` details a docker user meets, compared with the oracle: the environment
docker builds (bare ``-e KEY`` unsets, TERM's place, Config.Env), mount-flag refusals in
docker's words, tmpfs modes, and the inspect fields a created container shows."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.containers.conftest import refusal

RUN = ["run", "--rm", "--network", "none"]


def _docker_message(stderr: bytes) -> str:
    """docker's error line without its ``docker:`` / daemon prefixes (and the full stop the
    20.10 client adds to a daemon's message)."""
    line = stderr.decode().strip().splitlines()[0]
    line = line.removeprefix("docker: ")
    if line.startswith("Error response from daemon: "):
        line = line.removeprefix("Error response from daemon: ").removesuffix(".")
    return line


def test_environment_is_built_like_docker(ctr, oracle, tmp_path, monkeypatch):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\n\n  A=1\nGREETING=from-file\nFROM_HOST\nNOT_ON_HOST_XYZ\n")
    monkeypatch.setenv("FROM_HOST", "host-value")
    monkeypatch.delenv("GREETING", raising=False)
    cases = [
        ["-t", "-e", "GREETING", "--env-file", str(env_file), "-e", "X=2", "--entrypoint", "env", "cfgimage"],
        ["-e", "GREETING", "--entrypoint", "env", "cfgimage"],  # unset here: unset in the container
        ["-t", "-e", "GREETING=x", "--entrypoint", "env", "cfgimage"],  # TERM before the image's env
    ]
    for args in cases:
        mine, theirs = ctr.run(*RUN, *args), oracle.run(*RUN, *args)
        assert _without_hostname(mine.stdout) == _without_hostname(theirs.stdout), args
    created = ctr.out("create", "-e", "A=1", "-e", "GREETING", "cfgimage").strip()
    assert json.loads(ctr.out("inspect", "--format", "{{json .Config.Env}}", created)) == ["A=1", "GREETING"]
    bare = ctr.out("create", "busybox").strip()
    assert ctr.out("inspect", "--format", "{{json .Config.Env}}", bare) == "null\n"  # as docker: no env at all


def _without_hostname(output: bytes) -> list[bytes]:
    return [line for line in output.splitlines() if not line.startswith(b"HOSTNAME=")]


BAD_FLAGS = [
    ["-w", "relative", "busybox", "pwd"],
    ["-w", "/etc/passwd", "busybox", "pwd"],
    ["--mount", "type=bind,src=/tmp,dst=/x,readonly=maybe", "busybox", "true"],
    ["--mount", "type=volume,dst=/x,foo", "busybox", "true"],
    ["--mount", "type=bind,src=/tmp,dst=/x,foo=bar", "busybox", "true"],
    ["--mount", "type=bind,source=/tmp,dst=/x,volume-nocopy", "busybox", "true"],
    ["--mount", "type=bind,src=/tmp", "busybox", "true"],
    ["--mount", "target=/x,type=bogus", "busybox", "true"],
    ["--mount", "type=bind,src=relative,dst=/x", "busybox", "true"],
    ["--mount", "type=bind,src=/tmp,dst=/x,bind-propagation=bogus", "busybox", "true"],
    ["--mount", "type=tmpfs,dst=/x,tmpfs-mode=abc", "busybox", "true"],
    ["-v", "/tmp:/x:ro,rw", "busybox", "true"],
    ["-v", "/tmp:/x:nocopy", "busybox", "true"],
    ["-v", "/tmp:/", "busybox", "true"],
    ["-v", "/tmp:relative", "busybox", "true"],
    ["--tmpfs", "relative", "busybox", "true"],
]


def test_bad_flags_are_refused_in_dockers_words_and_leave_nothing(ctr, oracle, oracle28, tmp_path):
    env_file = tmp_path / "bad.env"
    env_file.write_text("=value\n")
    before = set(ctr.ids())
    problems = []
    for flags in BAD_FLAGS:
        args = [arg.replace("{env}", str(env_file)) for arg in flags]
        mine = ctr.run(*RUN, *args, check=False)
        theirs = oracle.run(*RUN, *args, check=False)
        expected = "lamina: error: " + _docker_message(theirs.stderr) + "\n"
        if (mine.returncode, mine.stderr.decode()) != (125, expected):
            problems.append(f"{args}: {mine.returncode} {mine.stderr.decode()!r} != 125 {expected!r}")
    assert not problems, "\n".join(problems)
    # where the oracle's 20.10 client words it otherwise: docker 28's client on the same daemon
    for args in (["--env-file", str(env_file), "busybox"], ["-v", ":/x", "busybox"]):
        mine, theirs = ctr.run(*RUN, *args, check=False), oracle28.run(*RUN, *args, check=False)
        assert mine.stderr.count(b"\n") == 1 and refusal(mine) == refusal(theirs), args
    assert set(ctr.ids()) == before


def test_tmpfs_gets_its_own_mode_like_docker(ctr, oracle):
    args = ["--tmpfs", "/t1", "--tmpfs", "/t2:mode=700", "--mount", "type=tmpfs,dst=/t3,tmpfs-mode=750",
            "busybox", "stat", "-c", "%n %a", "/t1", "/t2", "/t3", "/tmp"]
    mine = ctr.out(*RUN, *args)
    assert mine == oracle.out(*RUN, *args)
    assert mine.splitlines()[:3] == ["/t1 1777", "/t2 700", "/t3 750"]


def _created_fields(tool) -> tuple[tuple, object]:
    """The inspect fields of a created (never started) container this test compares, and its Ulimits."""
    container_id = tool.out("create", "--name", "fresh", "--tmpfs", "/t", "-v", "/tmp:/host:ro",
                            "--mount", "type=volume,dst=/v,volume-nocopy", "busybox").strip().splitlines()[-1]
    try:
        document = json.loads(tool.out("inspect", "fresh"))[0]
    finally:
        tool.run("rm", "-f", "-v", "fresh", check=False)
    config, host_config = document["Config"], document["HostConfig"]
    (network,) = document["NetworkSettings"]["Networks"].values()  # its name: lamina's 'private', docker's 'bridge'
    return (config["Hostname"] == container_id[:12], config["AttachStdout"], config["AttachStderr"],
            config["AttachStdin"], sorted(m["Destination"] for m in document["Mounts"]),  # docker's order varies
            {m["Destination"]: m["Mode"] for m in document["Mounts"]}["/host"],
            host_config["Tmpfs"], "Init" in host_config, host_config["Mounts"], bool(host_config["CgroupnsMode"]),
            host_config["Devices"], document["LogPath"], document["HostsPath"], network["EndpointID"]), \
        host_config["Ulimits"]


def test_created_container_inspects_like_docker(ctr, oracle):
    ours, ulimits = _created_fields(ctr)
    assert ours == _created_fields(oracle)[0]
    assert ours[:8] == (True, True, True, False, ["/host", "/v"], "ro", {"/t": ""}, False)  # --tmpfs: HostConfig only
    assert ours[8] == [{"Type": "volume", "Target": "/v", "VolumeOptions": {"NoCopy": True, "DriverConfig": {}}}]
    assert ours[11:] == ("", "", "")  # not started yet
    # Specification: the 20.10 oracle answers null; docker 25+ daemons an empty list (API 1.44's
    # HostConfig in docs.docker.com/reference/api/engine/version/v1.44/ lists Ulimits as an array).
    assert ulimits == []


@pytest.mark.parametrize("flag", ["-d", ""])
def test_run_attaches_only_in_the_foreground(ctr, oracle, flag):
    args = [flag] if flag else []
    seen = []
    for tool in (ctr, oracle):
        tool.run("run", *args, "--name", f"att{flag}", "--network", "none", "busybox", "true")
        try:
            tool.run("wait", f"att{flag}")
            seen.append(tool.out("inspect", "--format", "{{.Config.AttachStdout}}", f"att{flag}").strip())
        finally:
            tool.run("rm", "-f", f"att{flag}", check=False)
    assert seen == ["false" if flag else "true"] * 2


def test_host_network_records_the_hosts_name(ctr, oracle):
    names = []
    for tool in (ctr, oracle):
        tool.run("create", "--name", "onhost", "--network", "host", "busybox")
        try:
            names.append(tool.out("inspect", "--format", "{{.Config.Hostname}}", "onhost").strip())
        finally:
            tool.run("rm", "-f", "onhost", check=False)
    assert names == [os.uname().nodename] * 2


def test_create_exits_like_docker_for_its_clients_and_its_daemons_refusals(ctr, oracle28, tmp_path):
    """docker 28's client on the private dockerd: 125 for what the client refuses, 1 for the daemon's."""
    bad_env = tmp_path / "bad.env"
    bad_env.write_text("=value\n")
    cases = (["--name", "bad!"], ["-w", "relative"], ["--memory", "1k"], ["--mount", "foo"], ["-p", "abc:80"],
             ["--restart", "bogus"], ["--restart", "always:3"], ["--env-file", "/no/such/file"],
             ["-p", "8080:80-81"], ["--env-file", str(bad_env)], ["-v", ":/x"])
    before = set(ctr.ids())
    for flags in cases:
        mine, theirs = ctr.run("create", *flags, "busybox", check=False), oracle28.run("create", *flags, "busybox",
                                                                                       check=False)
        assert mine.stderr.count(b"\n") == 1, (flags, mine.stderr)
        assert refusal(mine) == refusal(theirs), flags
    assert set(ctr.ids()) == before
    assert refusal(ctr.run("create", "--restart", "bogus", "busybox", check=False)) == (
        1, "invalid restart policy 'bogus'")


def test_a_taken_host_port_is_refused_in_dockers_words(ctr):
    """Specification, not compared: the private dockerd runs with --bridge=none and no userland
    proxy of its own to publish through. Source: moby's daemon/libnetwork portmapper
    (``Error starting userland proxy: listen tcp4 …: bind: address already in use``), the
    message a docker user meets when a host port is taken."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = ctr.run("run", "-d", "--name", "portless", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "5",
                         check=False)
    assert result.returncode == 125 and re.fullmatch(rb"[0-9a-f]{64}\n", result.stdout)  # docker prints the ID first
    assert result.stderr.decode() == ("lamina: error: driver failed programming external connectivity: Error starting "
                                      f"userland proxy: listen tcp4 127.0.0.1:{port}: bind: address already in use\n")
    assert ctr.state("portless") == "created"  # as docker leaves it


def test_etc_files_are_the_containers_own_and_writable_like_docker(ctr, oracle):
    script = "echo '10.1.2.3 extra' >> /etc/hosts && tail -n 1 /etc/hosts; echo renamed > /etc/hostname && cat /etc/hostname"
    mine = ctr.run(*RUN, "busybox", "sh", "-c", script)
    assert (mine.returncode, mine.stdout) == (0, oracle.run(*RUN, "busybox", "sh", "-c", script).stdout)
    assert mine.stdout == b"10.1.2.3 extra\nrenamed\n"
    with open("/etc/hosts") as hosts:
        before = hosts.read()
    ctr.run("run", "--rm", "--network", "host", "busybox", "sh", "-c", "echo '10.9.9.9 nothost' >> /etc/hosts")
    with open("/etc/hosts") as hosts:
        assert hosts.read() == before  # a copy: the host's file never changes
    read_only = ctr.run(*RUN, "--read-only", "busybox", "sh", "-c", "echo x >> /etc/hosts", check=False)
    assert read_only.returncode == 1 and b"Read-only file system" in read_only.stderr


def test_empty_user_and_workdir_keep_the_images_like_docker(ctr, oracle):
    args = [*RUN, "-u", "", "-w", "", "cfgimage", "id -un; pwd"]
    mine = ctr.out(*args)
    assert mine == oracle.out(*args) == "alice\n/home/alice\n"
    ctr.run("run", "-d", "--name", "userly", "--entrypoint", "sleep", "cfgimage", "300")
    assert ctr.out("exec", "-u", "", "userly", "id", "-un") == "alice\n"


def test_publish_ranges_like_docker(ctr, oracle28):
    """The refusal is compared with docker 28's client; the choice in a host range is a
    specification (the private dockerd has no bridge to publish on): docs.docker.com/engine/network/
    ("-p 8080-8090:80" takes a free port of the range)."""
    refused = ctr.run("create", "-p", "8080:80-81", "busybox", check=False)
    theirs = oracle28.run("create", "-p", "8080:80-81", "busybox", check=False)
    assert refusal(refused) == refusal(theirs) == (
        125, "invalid ranges specified for container and host Ports: 80-81 and 8080")
    import socket

    with socket.socket() as holder:  # the range's first port is taken: the next one is used
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        first = holder.getsockname()[1]
        ctr.run("create", "--name", "ranged", "-p", f"{first}-{first + 5}:90", "busybox")
    bindings = json.loads(ctr.out("inspect", "--format", "{{json .HostConfig.PortBindings}}", "ranged"))
    assert first < int(bindings["90/tcp"][0]["HostPort"]) <= first + 5


def test_mount_refusals_come_before_anything_is_made(ctr, tmp_path):
    volumes = set(ctr.out("volume", "ls", "-q").split())
    new_dir = tmp_path / "made-by-v"
    for flags in (["-v", "fresh-volume:/a", "--mount", "type=bind,src=/no/such/dir,dst=/b"],
                  ["-v", f"{new_dir}:/a", "-v", "/tmp:/a"]):
        assert ctr.run("run", "--rm", *flags, "busybox", "true", check=False).returncode == 125, flags
    assert set(ctr.out("volume", "ls", "-q").split()) == volumes
    assert not new_dir.exists()
    repeated = ctr.out("create", "-v", "/tmp:/x", "-v", "/tmp:/x", "busybox").strip()  # docker: one bind
    assert ctr.out("inspect", "--format", "{{json .HostConfig.Binds}} {{len .Mounts}}", repeated) == '["/tmp:/x"] 1\n'
