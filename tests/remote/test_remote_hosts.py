"""``-H ssh://``, contexts and ``image scp`` between namespace "hosts" with real sshd's."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import store_listing

pytestmark = pytest.mark.slow


def _app(tmp_path: Path) -> Path:
    """A build context with files its .dockerignore leaves out."""
    app = tmp_path / "app"
    (app / "sub").mkdir(parents=True)
    (app / "secret").mkdir()
    (app / "sub" / "a.txt").write_text("hello from the context\n")
    (app / "secret" / "key").write_text("never sent\n")
    (app / "debug.log").write_text("never sent\n")
    (app / ".dockerignore").write_text("secret\n*.log\n")
    (app / "Dockerfile").write_text('FROM busybox\nCOPY . /app\nRUN find /app | sort > /listing\nCMD ["cat", "/listing"]\n')
    return app


def test_host_a_drives_host_b_build_run_logs_ps_rm(hosts, busybox_tar, tmp_path):
    host_a, host_b = hosts
    app = _app(tmp_path)
    remote = ("-H", "ssh://hostB")
    host_a.out(*remote, "import", str(busybox_tar), "busybox:latest")  # the hosts share one filesystem
    built = host_a.run(*remote, "build", "-t", "myapp:v1", str(app))
    assert b"Successfully tagged myapp:v1" in built.stdout
    # the image is in B's store, none is in A's
    assert "myapp" in host_b.out("images")
    assert not (host_a.root / "metadata.db").exists() or "myapp" not in host_a.out("images")
    # the context B built from is the one A's own lamina would build from the same directory
    host_a.out("import", str(busybox_tar), "busybox:latest")
    host_a.out("build", "-t", "myapp:v1", str(app))
    local_listing = host_a.out("run", "--rm", "myapp:v1")
    remote_listing = host_a.out(*remote, "run", "--rm", "myapp:v1")
    assert remote_listing == local_listing
    assert "/app/sub/a.txt" in remote_listing and "secret" not in remote_listing and "debug.log" not in remote_listing

    container = host_a.out(*remote, "run", "-d", "-p", "8080:80", "--name", "web", "busybox",
                           "sh", "-c", "echo started; exec httpd -f -p 80 -h /bin").strip()
    assert len(container) == 64
    body = b""
    for _ in range(50):  # from host A's namespace to B's published port
        probe = subprocess.run(host_a.inside(sys.executable, "-c", "import urllib.request as u; print(u.urlopen("
                                             f"'http://{host_b.address}:8080/busybox', timeout=2).status)"),
                               capture_output=True)
        body = probe.stdout
        if probe.returncode == 0:
            break
        time.sleep(0.2)
    assert body.strip() == b"200"
    assert "started" in host_a.out(*remote, "logs", "web")
    ps = host_a.out(*remote, "ps", "--format", "{{.Names}} {{.Ports}}")
    assert ps.strip() == "web 0.0.0.0:8080->80/tcp"
    assert host_a.out("ps", "-q") == ""  # nothing runs on A
    host_a.out(*remote, "rm", "-f", "web")
    assert host_b.out("ps", "-aq") == ""


def test_lamina_host_and_contexts_choose_where_commands_run(hosts, busybox_tar):
    host_a, host_b = hosts
    host_b.out("import", str(busybox_tar), "only-on-b:1")
    assert "only-on-b" in host_a.out("images", env=host_a.env(LAMINA_HOST="ssh://hostB"))
    host_a.out("context", "create", "hostb", "--docker", "host=ssh://hostB", "--description", "the other host")
    listing = host_a.out("context", "ls")
    assert listing.splitlines()[0].split() == ["NAME", "DESCRIPTION", "DOCKER", "ENDPOINT"]
    assert "default *" in listing and "ssh://hostB" in listing
    assert "only-on-b" in host_a.out("--context", "hostb", "images")
    assert "only-on-b" not in host_a.out("images")
    host_a.out("context", "use", "hostb")
    assert "only-on-b" in host_a.out("images")
    assert "hostb *" in host_a.out("context", "ls")  # context commands stay on this host
    # -H beats the current context; LAMINA_CONTEXT=default beats it too
    assert "only-on-b" not in host_a.out("images", env=host_a.env(LAMINA_CONTEXT="default"))
    assert json.loads(host_a.out("context", "inspect"))[0]["Endpoints"]["docker"]["Host"] == "ssh://hostB"
    assert "in use" in host_a.fails("context", "rm", "hostb")
    host_a.out("context", "rm", "-f", "hostb")
    assert "only-on-b" not in host_a.out("images")


def test_image_scp_sends_only_the_layers_the_other_store_lacks(hosts, busybox_tar, tmp_path):
    host_a, host_b = hosts
    host_a.out("import", str(busybox_tar), "busybox:latest")
    host_b.out("import", str(busybox_tar), "busybox:latest")  # B already has the base layer
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN head -c 300000 /dev/urandom > /noise\n")
    image_id = host_a.out("build", "-q", "-t", "app:1", str(context)).strip()
    layers = json.loads(host_a.out("inspect", "app:1"))[0]["RootFS"]["Layers"]
    assert len(layers) == 2

    copied = host_a.out("image", "scp", "app:1", "root@hostB::")
    assert "Copied 1 layer(s)" in copied and "1 already present" in copied
    assert "Loaded image: app:1" in copied
    assert host_b.out("images", "-q", "--no-trunc", "app:1").strip() == image_id
    assert json.loads(host_b.out("inspect", "app:1"))[0]["RootFS"]["Layers"] == layers
    assert host_b.run("run", "--rm", "app:1", "wc", "-c", "/noise").stdout.split()[0] == b"300000"
    assert "0 problems" in host_b.out("fsck")

    again = host_a.out("image", "scp", "app:1", "hostB::renamed:2")  # every layer there now
    assert "Copied 0 layer(s) (0B), 2 already present" in again
    assert host_b.out("images", "-q", "--no-trunc", "renamed:2").strip() == image_id


def test_save_piped_through_ssh_into_load(hosts, busybox_tar):
    host_a, host_b = hosts
    image_id = host_a.out("import", str(busybox_tar), "piped:1").strip()
    piped = host_a.shell(f"{sys.executable} -m lamina save piped:1 | ssh -F {host_a.ssh_config} hostB lamina load")
    assert piped.returncode == 0, piped.stderr.decode()
    assert b"Loaded image: piped:1" in piped.stdout
    assert host_b.out("images", "-q", "--no-trunc", "piped:1").strip() == image_id


def test_wrong_host_key_is_one_line_and_touches_no_store(hosts, busybox_tar, tmp_path):
    host_a, host_b = hosts
    host_a.out("import", str(busybox_tar), "app:1")
    host_b.out("import", str(busybox_tar), "other:1")
    before_a, before_b = store_listing(host_a.root), store_listing(host_b.root)
    forged = tmp_path / "known_hosts"
    forged_key = tmp_path / "forged"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(forged_key)], check=True)
    forged.write_text(f"{host_b.address} {' '.join(forged_key.with_suffix('.pub').read_text().split()[:2])}\n")
    env = host_a.env(LAMINA_SSH_COMMAND=f"ssh -F {host_a.ssh_config} -o UserKnownHostsFile={forged}")
    error = host_a.fails("image", "scp", "app:1", "hostB::", env=env)
    assert error.startswith("lamina: error: cannot reach ssh://hostB: the host key has changed"), error
    error = host_a.fails("-H", "ssh://hostB", "images", env=env)
    assert "host key has changed" in error
    assert store_listing(host_a.root) == before_a and store_listing(host_b.root) == before_b


def test_unreachable_host_and_refused_port_are_one_line(hosts):
    host_a, _ = hosts
    error = host_a.fails("-H", "ssh://hostB:2222", "ps")
    assert error == "lamina: error: cannot reach ssh://hostB:2222: connect to host 10.77.0.2 port 2222: Connection refused"
    error = host_a.fails("-H", "ssh://root@10.77.0.9", "ps", env=host_a.env(
        LAMINA_SSH_COMMAND=f"ssh -F {host_a.ssh_config} -o ConnectTimeout=1"))
    assert error.startswith("lamina: error: cannot reach ssh://root@10.77.0.9: ")


def test_connection_cut_mid_scp_leaves_neither_store_changed(hosts, busybox_tar, tmp_path):
    """The ssh command passes at most 64 KiB of the image stream, then hangs up: the other
    host's load sees a cut archive, and everything it had added is gone again."""
    host_a, host_b = hosts
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN head -c 2000000 /dev/urandom > /noise\n")
    host_a.out("import", str(busybox_tar), "busybox:latest")
    host_a.out("build", "-q", "-t", "big:1", str(context))
    host_b.out("import", str(busybox_tar), "busybox:latest")
    before_a, before_b = store_listing(host_a.root), store_listing(host_b.root)
    cutter = tmp_path / "cut-ssh"
    cutter.write_text("#!/bin/sh\n"
                      "case \"$*\" in *--serve*) dd bs=512 count=128 status=none | ssh \"$@\" ;; *) exec ssh \"$@\" ;; esac\n")
    cutter.chmod(0o755)
    env = host_a.env(LAMINA_SSH_COMMAND=f"{cutter} -F {host_a.ssh_config}")
    error = host_a.fails("image", "scp", "big:1", "hostB::", env=env)
    assert error.startswith("lamina: error: ssh://hostB: image scp stream"), error
    assert store_listing(host_b.root) == before_b
    assert store_listing(host_a.root) == before_a
    assert "big" not in host_b.out("images")


def test_output_streams_while_the_remote_command_runs(hosts, busybox_tar, tmp_path):
    """The first line arrives while the remote container still waits (for a file only this test
    creates after reading that line): output is relayed as it comes, not when the command ends."""
    host_a, host_b = hosts
    host_b.out("import", str(busybox_tar), "busybox:latest")
    gate = tmp_path / "gate"
    gate.mkdir()
    process = subprocess.Popen(host_a.inside(sys.executable, "-m", "lamina", "-H", "ssh://hostB", "run", "--rm",
                                             "-v", f"{gate}:/gate", "busybox", "sh", "-c",
                                             "echo ready; while [ ! -e /gate/go ]; do sleep 0.1; done; echo done"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=host_a.env())
    try:
        assert process.stdout.readline() == b"ready\n"
        assert process.poll() is None
        (gate / "go").touch()
        assert process.stdout.read() == b"done\n"
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_build_with_a_dockerfile_outside_the_context_and_from_stdin(hosts, busybox_tar, tmp_path):
    host_a, host_b = hosts
    host_b.out("import", str(busybox_tar), "busybox:latest")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "data.txt").write_text("payload\n")
    outside = tmp_path / "elsewhere.Dockerfile"
    outside.write_text("FROM busybox\nCOPY data.txt /data.txt\nCMD [\"cat\", \"/data.txt\"]\n")
    host_a.out("-H", "ssh://hostB", "build", "-t", "outside:1", "-f", str(outside), str(context))
    assert host_b.out("run", "--rm", "outside:1") == "payload\n"
    # the random name the Dockerfile travelled under is not left in the image's files
    assert ".dockerfile." not in host_b.out("run", "--rm", "outside:1", "ls", "-a", "/")
    host_a.out("-H", "ssh://hostB", "build", "-t", "stdin:1", "-f", "-", str(context),
               input=b"FROM busybox\nCOPY . /ctx/\nCMD [\"ls\", \"-A\", \"/ctx\"]\n")
    assert host_b.out("run", "--rm", "stdin:1").split() == ["data.txt"]


def test_run_it_from_a_terminal_gets_a_terminal_over_there(hosts, busybox_tar):
    import os
    import pty

    host_a, host_b = hosts
    host_b.out("import", str(busybox_tar), "busybox:latest")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(host_a.inside(sys.executable, "-m", "lamina", "-H", "ssh://hostB", "run", "--rm", "-it",
                                             "busybox", "sh", "-c", "test -t 0 && test -t 1 && echo has-a-tty"),
                               stdin=terminal, stdout=terminal, stderr=terminal, env=host_a.env(), start_new_session=True)
    os.close(terminal)
    seen = b""
    try:
        while b"has-a-tty" not in seen:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        assert process.wait(60) == 0, seen
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    assert b"has-a-tty" in seen


def test_image_scp_from_the_other_host_brings_only_missing_layers(hosts, busybox_tar, tmp_path):
    host_a, host_b = hosts
    host_a.out("import", str(busybox_tar), "busybox:latest")
    host_b.out("import", str(busybox_tar), "busybox:latest")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN head -c 100000 /dev/urandom > /noise\n")
    image_id = host_b.out("build", "-q", "-t", "made-on-b:1", str(context)).strip()
    fetched = host_a.out("image", "scp", "root@hostB::made-on-b:1")
    assert "Copied 1 layer(s)" in fetched and "1 already present" in fetched and "Loaded image: made-on-b:1" in fetched
    assert host_a.out("images", "-q", "--no-trunc", "made-on-b:1").strip() == image_id
    renamed = host_a.out("image", "scp", "hostB::made-on-b:1", "here:2")
    assert "Copied 0 layer(s) (0B), 2 already present" in renamed
    assert host_a.out("images", "-q", "--no-trunc", "here:2").strip() == image_id
    assert "0 problems" in host_a.out("fsck")
    before = store_listing(host_a.root)
    assert host_a.fails("image", "scp", "hostB::nothere:1").startswith("lamina: error: ssh://hostB: No such image")
    assert store_listing(host_a.root) == before
