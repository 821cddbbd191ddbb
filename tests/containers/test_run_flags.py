"""``run``/``create`` flags beyond the basics (--add-host, --cap-add/--cap-drop, --privileged,
--ulimit, --shm-size, --security-opt, --group-add, --dns*, --cidfile): what the process sees
and what ``inspect`` shows, against docker where its private daemon can run the same."""

from __future__ import annotations

import json
import os

import pytest

from tests.containers.conftest import refusal

SAME_AS_DOCKER = [
    ("add-host", ["--add-host", "foo:1.2.3.4", "--add-host", "bar:5.6.7.8", "--add-host", "six:::1"],
     ["cat", "/etc/hosts"]),
    ("cap-drop all, add one", ["--cap-drop", "ALL", "--cap-add", "chown"], ["grep", "Cap", "/proc/self/status"]),
    ("cap-add with and without prefix", ["--cap-add", "net_admin", "--cap-add", "CAP_SYS_PTRACE"],
     ["grep", "Cap", "/proc/self/status"]),
    ("cap-drop one", ["--cap-drop", "CAP_NET_RAW", "--cap-drop", "kill"], ["grep", "Cap", "/proc/self/status"]),
    ("ulimit", ["--ulimit", "nofile=100:200", "--ulimit", "nproc=50", "--ulimit", "core=0"],
     ["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -c"]),
    ("shm-size", ["--shm-size", "1m"], ["sh", "-c", "grep ' /dev/shm ' /proc/mounts"]),
    ("shm-size default", [], ["sh", "-c", "grep ' /dev/shm ' /proc/mounts"]),
    ("seccomp unconfined", ["--security-opt", "seccomp=unconfined"], ["grep", "^Seccomp:", "/proc/self/status"]),
    ("apparmor and label accepted", ["--security-opt", "apparmor=unconfined", "--security-opt", "label=disable"],
     ["echo", "ok"]),
    ("group-add", ["-u", "alice", "--group-add", "1234", "--group-add", "staff"], ["id"]),
    ("dns all three", ["--dns", "1.1.1.1", "--dns", "9.9.9.9", "--dns-search", "ex.com", "--dns-option", "ndots:2"],
     ["cat", "/etc/resolv.conf"]),
]


@pytest.mark.parametrize(("label", "flags", "command"), SAME_AS_DOCKER, ids=[case[0] for case in SAME_AS_DOCKER])
def test_flag_seen_inside_as_in_docker(ctr, oracle, label, flags, command):
    mine = ctr.run("run", "--rm", "--network", "none", *flags, "busybox", *command, check=False)
    theirs = oracle.run("run", "--rm", "--network", "none", *flags, "busybox", *command, check=False)
    assert (mine.returncode, mine.stdout.decode()) == (theirs.returncode, theirs.stdout.decode()), \
        (mine.stderr, theirs.stderr)


def test_add_host_takes_the_equals_form_of_newer_docker(ctr, oracle28):
    args = ["run", "--rm", "--network", "none", "--add-host", "bar=5.6.7.8", "busybox", "tail", "-n1", "/etc/hosts"]
    assert ctr.out(*args) == oracle28.out(*args) == "5.6.7.8\tbar\n"  # docker 28's client knows the form


def test_no_new_privileges_can_be_turned_off_and_on(ctr, oracle28):
    def no_new_privs(tool, *flags: str) -> list[str]:
        return tool.out("run", "--rm", "--network", "none", *flags, "busybox", "grep", "NoNewPrivs",
                        "/proc/self/status").split()

    for flag, expected in (("no-new-privileges=false", "0"), ("no-new-privileges:true", "1")):
        assert no_new_privs(ctr, "--security-opt", flag) == no_new_privs(oracle28, "--security-opt", flag) == \
            ["NoNewPrivs:", expected]


def test_privileged_has_every_capability_no_seccomp_and_writable_sys(ctr):
    out = ctr.out("run", "--rm", "--network", "none", "--privileged", "busybox", "sh", "-c",
                  "grep -E '^(CapEff|Seccomp):' /proc/self/status; grep ' /sys sysfs' /proc/mounts;"
                  " head -c1 /proc/timer_list | wc -c")
    with open("/proc/self/status") as status:
        bounding = next(line.split()[1] for line in status if line.startswith("CapBnd:"))
    lines = out.splitlines()
    assert lines[0].split() == ["CapEff:", bounding]
    assert lines[1].split() == ["Seccomp:", "0"]
    assert " rw," in lines[2]
    assert lines[3].strip() == "1"  # not masked (a masked file reads empty)


def test_group_add_unknown_name_fails_at_start_like_docker(ctr, oracle28):
    args = ["run", "--rm", "--network", "none", "--group-add", "nosuch", "busybox", "id"]
    stderr = ctr.fails(*args)
    assert stderr.strip() == "lamina: error: Unable to find group nosuch: no matching entries in group file"
    assert refusal(oracle28.run(*args, check=False)) == (125, stderr.strip().removeprefix("lamina: error: "))


def test_dns_search_alone_keeps_the_nameservers(ctr, oracle):
    flags = ("--network", "none", "--dns-search", "ex.com", "--dns-option", "ndots:1")
    mine = ctr.out("run", "--rm", *flags, "busybox", "cat", "/etc/resolv.conf").splitlines()
    theirs = oracle.out("run", "--rm", *flags, "busybox", "cat", "/etc/resolv.conf").splitlines()
    assert (mine[0], mine[-1]) == (theirs[0], theirs[-1]) == ("search ex.com", "options ndots:1")


def test_inspect_shows_the_flags_as_docker(ctr, oracle):
    flags = ["--network", "none", "--add-host", "foo:1.2.3.4", "--cap-add", "net_admin", "--cap-add",
             "CAP_SYS_ADMIN", "--cap-drop", "ALL", "--ulimit", "nofile=100:200", "--ulimit", "nproc=5",
             "--shm-size", "1m", "--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges",
             "--security-opt", "label=disable", "--group-add", "1234", "--dns", "1.1.1.1", "--dns-search",
             "ex.com", "--dns-option", "ndots:2", "busybox", "true"]
    keys = ("ExtraHosts", "Ulimits", "ShmSize", "SecurityOpt", "GroupAdd", "Dns", "DnsSearch", "DnsOptions",
            "Privileged")

    def host_config(tool) -> dict:
        container = tool.out("create", *flags).strip()
        document = json.loads(tool.out("inspect", container))[0]["HostConfig"]
        tool.run("rm", container)
        return document

    mine = host_config(ctr)
    assert {key: mine[key] for key in keys} == {key: value for key, value in host_config(oracle).items() if key in keys}
    # the oracle's 20.10 client sends capabilities as typed; docker's current client normalises them
    assert (mine["CapAdd"], mine["CapDrop"]) == (["CAP_NET_ADMIN", "CAP_SYS_ADMIN"], ["ALL"])


def test_inspect_defaults_as_docker(ctr, oracle):
    keys = ("ExtraHosts", "CapAdd", "CapDrop", "ShmSize", "SecurityOpt", "GroupAdd", "Dns", "DnsSearch",
            "DnsOptions", "Privileged", "ContainerIDFile")

    def host_config(tool, *flags: str) -> dict:
        container = tool.out("create", "--network", "none", *flags, "busybox", "true").strip()
        document = json.loads(tool.out("inspect", container))[0]["HostConfig"]
        tool.run("rm", container)
        return {key: document[key] for key in (*keys, "MaskedPaths", "ReadonlyPaths") if "--privileged" in flags
                or key in keys}

    assert host_config(ctr) == host_config(oracle)
    assert host_config(ctr, "--privileged") == host_config(oracle, "--privileged")


def test_cidfile_is_written_and_an_existing_one_refused(ctr, oracle28, tmp_path):
    cidfile = tmp_path / "cid"
    container = ctr.out("create", "--cidfile", str(cidfile), "--network", "none", "busybox", "true").strip()
    assert cidfile.read_text() == container
    assert json.loads(ctr.out("inspect", container))[0]["HostConfig"]["ContainerIDFile"] == str(cidfile)
    before = ctr.ids()
    result = ctr.run("run", "--rm", "--cidfile", str(cidfile), "--network", "none", "busybox", "true", check=False)
    assert result.returncode == 125
    assert result.stderr.decode() == ("lamina: error: container ID file found, make sure the other container isn't "
                                      f"running or delete {cidfile}\n")
    assert ctr.ids() == before
    assert cidfile.read_text() == container
    theirs = oracle28.run("run", "--rm", "--cidfile", str(cidfile), "--network", "none", "busybox", "true",
                          check=False)  # docker 28's client refuses the same file in the same words
    assert refusal(theirs) == refusal(result)


def test_cidfile_is_removed_when_the_create_fails(ctr, tmp_path):
    cidfile = tmp_path / "cid"
    ctr.fails("run", "--cidfile", str(cidfile), "--cap-add", "nosuch", "busybox", "true")
    assert not os.path.exists(cidfile)


REFUSALS = [
    (["--add-host", "foo"], 'invalid argument "foo" for "--add-host" flag: bad format for add-host: "foo"'),
    (["--add-host", "foo:notip"],
     'invalid argument "foo:notip" for "--add-host" flag: invalid IP address in add-host: "notip"'),
    (["--cap-add", "foo"], 'invalid CapAdd: unknown capability: "CAP_FOO"'),
    (["--cap-drop", "cap_nonsense"], 'invalid CapDrop: unknown capability: "CAP_NONSENSE"'),
    (["--ulimit", "nofile"], 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile'),
    (["--ulimit", "nofile=x"],
     'invalid argument "nofile=x" for "--ulimit" flag: strconv.ParseInt: parsing "x": invalid syntax'),
    (["--ulimit", "foo=1"], 'invalid argument "foo=1" for "--ulimit" flag: invalid ulimit type: foo'),
    (["--ulimit", "nofile=20:10"], 'invalid argument "nofile=20:10" for "--ulimit" flag: ulimit soft limit must be '
                                   'less than or equal to hard limit: 20 > 10'),
    (["--shm-size", "x"], "invalid argument \"x\" for \"--shm-size\" flag: invalid size: 'x'"),
    (["--security-opt", "foo"], 'Invalid --security-opt: "foo"'),
    (["--security-opt", "foo=bar"], 'invalid --security-opt 2: "foo=bar"'),
    (["--security-opt", "no-new-privileges=maybe"], 'invalid --security-opt 2: "no-new-privileges=maybe"'),
    (["--security-opt", "seccomp=/nonexistent/profile.json"],
     "opening seccomp profile (/nonexistent/profile.json) failed: open /nonexistent/profile.json: no such file or "
     "directory"),
    (["--dns-search", "bad_domain!"],
     'invalid argument "bad_domain!" for "--dns-search" flag: bad_domain! is not a valid domain'),
    (["--dns-search", "-x.com"], 'invalid argument "-x.com" for "--dns-search" flag: -x.com is not a valid domain'),
    (["--dns", "notip"], 'invalid argument "notip" for "--dns" flag: IP address is not correctly formatted: notip'),
]


@pytest.mark.parametrize(("flags", "message"), REFUSALS, ids=[" ".join(case[0]) for case in REFUSALS])
def test_bad_flag_is_refused_in_dockers_words_and_leaves_nothing(ctr, oracle28, flags, message):
    """Compared with docker 28's client on the private dockerd (the 20.10 client words some otherwise)."""
    before = ctr.ids()
    result = ctr.run("run", "--network", "none", *flags, "busybox", "true", check=False)
    assert (result.returncode, result.stderr.decode()) == (125, f"lamina: error: {message}\n")
    assert ctr.ids() == before
    theirs = oracle28.run("run", "--network", "none", *flags, "busybox", "true", check=False)
    assert refusal(theirs) == refusal(result)


def test_host_gateway_is_refused_clearly(ctr):
    stderr = ctr.fails("run", "--rm", "--network", "none", "--add-host", "gw:host-gateway", "busybox", "true")
    assert "host-gateway is not supported" in stderr


def test_group_add_holds_for_exec_as_in_docker(ctr, oracle):
    def exec_ids(tool) -> list[str]:
        container = tool.out("run", "-d", "--network", "none", "-u", "alice", "--group-add", "staff", "--group-add",
                             "1234", "busybox", "sleep", "60").strip()
        try:
            return [tool.out("exec", container, "id"), tool.out("exec", "-u", "root", container, "id")]
        finally:
            tool.run("rm", "-f", container)

    assert exec_ids(ctr) == exec_ids(oracle)


def test_privileged_sees_the_hosts_devices(ctr):
    from lamina.runtime.hostflags import host_devices

    expected = sorted(device["path"] for device in host_devices())
    listed = ctr.out("run", "--rm", "--network", "none", "--privileged", "busybox", "sh", "-c",
                     "find /dev -type c -o -type b | grep -v -e '^/dev/pts/' -e '^/dev/console$' -e '^/dev/ptmx$'")
    assert expected and set(expected) <= set(listed.split())
    plain = ctr.out("run", "--rm", "--network", "none", "busybox", "sh", "-c", "find /dev -type b | wc -l")
    assert plain.strip() == "0"
