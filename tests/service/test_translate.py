"""docker's create JSON → RunOptions, field by field, against the CLI's own parse of the
equivalent ``run`` flags (the same RunOptions ``lamina run`` would build)."""

from __future__ import annotations

import pytest

from lamina.cli.containerrun import make_options
from lamina.cli.rundoor import parse_run
from lamina.runtime.runconfig import RunOptions
from lamina.service.server import ApiError
from lamina.service.translate import image_of, run_fields

# (docker's create body, the docker run flags that mean the same, the command after the image)
CASES = [
    ({"Cmd": ["echo", "hi"]}, [], ["echo", "hi"]),
    ({"Cmd": "echo 'two words'"}, [], ["echo", "two words"]),
    ({"Entrypoint": ["sh", "-c"], "Cmd": ["echo x"]}, ["--entrypoint", "sh"], ["-c", "echo x"]),
    ({"Entrypoint": []}, ["--entrypoint", ""], []),
    ({"Env": ["A=1", "B=two words"]}, ["-e", "A=1", "-e", "B=two words"], []),
    ({"WorkingDir": "/tmp"}, ["-w", "/tmp"], []),
    ({"User": "nobody:nogroup"}, ["-u", "nobody:nogroup"], []),
    ({"Hostname": "box"}, ["-h", "box"], []),
    ({"Labels": {"a": "b", "c": ""}}, ["-l", "a=b", "-l", "c="], []),
    ({"Tty": True, "OpenStdin": True}, ["-t", "-i"], []),
    ({"StopSignal": "SIGINT", "StopTimeout": 3}, ["--stop-signal", "SIGINT", "--stop-timeout", "3"], []),
    ({"ExposedPorts": {"80/tcp": {}, "53/udp": {}}}, ["--expose", "80/tcp", "--expose", "53/udp"], []),
    ({"Volumes": {"/data": {}}}, ["-v", "/data"], []),
    ({"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000, "Timeout": 500_000_000,
                      "StartPeriod": 1_000_000_000, "Retries": 4}},
     ["--health-cmd", "true", "--health-interval", "2s", "--health-timeout", "0.5s", "--health-start-period", "1s",
      "--health-retries", "4"], []),
    ({"Healthcheck": {"Test": ["NONE"]}}, ["--no-healthcheck"], []),
    ({"HostConfig": {"Binds": ["/srv:/srv:ro", "vol:/v"]}}, ["-v", "/srv:/srv:ro", "-v", "vol:/v"], []),
    ({"Volumes": {"/v": {}, "/w": {}}, "HostConfig": {"Binds": ["vol:/v:rw"]}}, ["-v", "/w", "-v", "vol:/v:rw"], []),
    ({"HostConfig": {"Mounts": [{"Type": "bind", "Source": "/srv", "Target": "/s", "ReadOnly": True}]}},
     ["--mount", "type=bind,source=/srv,target=/s,readonly"], []),
    ({"HostConfig": {"Tmpfs": {"/run": "size=1m", "/scratch": ""}}}, ["--tmpfs", "/run:size=1m", "--tmpfs", "/scratch"],
     []),
    ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                      "53/udp": [{"HostIp": "", "HostPort": "5353"}]}}},
     ["-p", "127.0.0.1:8080:80/tcp", "-p", "5353:53/udp"], []),
    ({"HostConfig": {"PublishAllPorts": True}}, ["-P"], []),
    ({"HostConfig": {"ReadonlyRootfs": True}}, ["--read-only"], []),
    ({"HostConfig": {"Memory": 67108864, "MemorySwap": 134217728}},
     ["-m", "67108864", "--memory-swap", "134217728"], []),
    ({"HostConfig": {"NanoCpus": 1_500_000_000}}, ["--cpus", "1.5"], []),
    ({"HostConfig": {"CpuQuota": 50000, "CpuPeriod": 100000}}, ["--cpus", "0.5"], []),
    ({"HostConfig": {"PidsLimit": 50}}, ["--pids-limit", "50"], []),
    ({"HostConfig": {"Init": True, "AutoRemove": True}}, ["--init", "--rm"], []),
    ({"HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}},
     ["--restart", "on-failure:3"], []),
    ({"HostConfig": {"RestartPolicy": {"Name": "always"}}}, ["--restart", "always"], []),
    ({"HostConfig": {"ExtraHosts": ["db:10.0.0.2"]}}, ["--add-host", "db:10.0.0.2"], []),
    ({"HostConfig": {"CapAdd": ["NET_ADMIN"], "CapDrop": ["MKNOD"], "Privileged": True}},
     ["--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--privileged"], []),
    ({"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}]}}, ["--ulimit", "nofile=100:200"], []),
    ({"HostConfig": {"ShmSize": 1048576}}, ["--shm-size", "1048576"], []),
    ({"HostConfig": {"SecurityOpt": ["no-new-privileges"], "GroupAdd": ["10"]}},
     ["--security-opt", "no-new-privileges", "--group-add", "10"], []),
    ({"HostConfig": {"Dns": ["1.1.1.1"], "DnsSearch": ["example.org"], "DnsOptions": ["ndots:2"]}},
     ["--dns", "1.1.1.1", "--dns-search", "example.org", "--dns-option", "ndots:2"], []),
    ({"HostConfig": {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/nothing",
                                  "CgroupPermissions": "rwm"}]}}, ["--device", "/dev/null:/dev/nothing:rwm"], []),
    ({"HostConfig": {"Sysctls": {"net.ipv4.ip_forward": "1"}}}, ["--sysctl", "net.ipv4.ip_forward=1"], []),
    ({"HostConfig": {"PidMode": "host", "IpcMode": "host"}}, ["--pid", "host", "--ipc", "host"], []),
    ({"HostConfig": {"IpcMode": "private"}}, [], []),
    ({"HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}}}},
     ["--log-driver", "json-file", "--log-opt", "max-size=1m"], []),
    ({"HostConfig": {"NetworkMode": "host"}}, ["--network", "host"], []),
    ({"HostConfig": {"NetworkMode": "none"}}, ["--network", "none"], []),
    ({"HostConfig": {"NetworkMode": "bridge"}}, [], []),
    ({"HostConfig": {"NetworkMode": "default"}}, [], []),
    ({"NetworkingConfig": {"EndpointsConfig": {"host": {}}}}, ["--network", "host"], []),
]


def cli_options(flags: list[str], command: list[str], *, name: str | None = None) -> RunOptions:
    """What ``lamina run -d --pull never FLAGS busybox COMMAND`` builds."""
    argv = ["run", "-d", "--pull", "never", *(["--name", name] if name else []), *flags, "busybox", *command]
    parsed = parse_run(argv)
    assert parsed is not None, argv
    params, image, rest = parsed
    assert image == "busybox"
    return make_options(params, rest, True)


@pytest.mark.parametrize(("body", "flags", "command"), CASES, ids=[repr(c[1] or c[0])[:60] for c in CASES])
def test_create_json_means_what_the_run_flags_mean(body, flags, command):
    body = {"Image": "busybox", **body}
    assert RunOptions(**run_fields(body)) == cli_options(flags, command)


def test_every_field_at_once_and_the_name():
    body: dict = {"Image": "busybox"}
    flags: list[str] = []
    command: list[str] = []
    for case_body, case_flags, case_command in CASES[4:]:
        if any(word in str(case_body) for word in ("NetworkMode", "NetworkingConfig", "IpcMode", "CpuQuota", "NONE", "vol:/v:rw")):
            continue
        for key, value in case_body.items():
            if key == "HostConfig":
                body.setdefault("HostConfig", {}).update(value)
            else:
                body[key] = value
        flags += case_flags
        command += case_command
    options = RunOptions(**run_fields(body, name="web"))
    expected = cli_options(flags, command, name="web")
    for field in RunOptions.__slots__:
        assert getattr(options, field) == getattr(expected, field), field


@pytest.mark.parametrize("body", [
    {"Image": "busybox", "Cmd": 5},
    {"Image": "busybox", "Cmd": ["echo", 1]},
    {"Image": "busybox", "HostConfig": []},
    {"Image": "busybox", "HostConfig": {"Binds": "/a:/b"}},
    {"Image": "busybox", "HostConfig": {"Memory": "lots"}},
    {"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "bind"}]}},
    {"Image": "busybox", "Labels": ["a=b"]},
    ["busybox"],
])
def test_wrong_types_are_bad_parameters(body):
    with pytest.raises(ApiError) as caught:
        image_of(body) if not isinstance(body, dict) else None
        run_fields(body)
    assert caught.value.status == 400


def test_a_user_defined_network_is_not_found():
    with pytest.raises(ApiError) as caught:
        run_fields({"Image": "busybox", "HostConfig": {"NetworkMode": "backend"}})
    assert caught.value.status == 404
    assert "backend" in str(caught.value)


def test_an_image_is_required():
    with pytest.raises(ApiError) as caught:
        image_of({"Cmd": ["true"]})
    assert caught.value.status == 400
