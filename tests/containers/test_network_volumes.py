"""Networking modes and published ports; bind mounts, volumes and tmpfs."""

from __future__ import annotations

import socket
import urllib.request


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_published_port_is_reachable_on_loopback(ctr):
    port = _free_port()
    ctr.run("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "busybox", "httpd", "-f", "-p", "80",
            "-h", "/www")
    body = None

    def fetch() -> bool:
        nonlocal body
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
        except OSError:
            return False
        return True

    ctr.wait_for(fetch, what="httpd answering")
    assert body == b"hello from lamina\n"
    assert f"127.0.0.1:{port}->80/tcp" in ctr.out("ps", "--filter", "name=web")
    assert ctr.out("inspect", "--format", "{{json .NetworkSettings.Ports}}", "web") == \
        f'{{"80/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{port}"}}]}}\n'
    ctr.run("rm", "-f", "web")
    with socket.socket() as probe:  # nothing listens there any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_network_modes(ctr):
    none = ctr.out("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net | sort")
    assert none.split() == ["lo"]
    private = ctr.out("run", "--rm", "busybox", "sh", "-c", "ls /sys/class/net | sort; cat /etc/resolv.conf")
    assert private.split()[:2] == ["lo", "tap0"] and "nameserver 10.0.2.3" in private
    host_hostname = socket.gethostname()
    assert ctr.out("run", "--rm", "--network", "host", "busybox", "hostname") == host_hostname + "\n"


def test_bind_mounts_and_read_only(ctr, tmp_path):
    (tmp_path / "in.txt").write_text("from host\n")
    out = ctr.out("run", "--rm", "-v", f"{tmp_path}:/host", "-v", f"{tmp_path}:/ro:ro", "busybox", "sh", "-c",
                  "cat /host/in.txt; echo made > /host/out.txt; echo x > /ro/y 2>&1 || echo refused")
    assert out.splitlines()[0] == "from host"
    assert out.splitlines()[-1] == "refused"
    assert (tmp_path / "out.txt").read_text() == "made\n"
    assert not (tmp_path / "y").exists()
    created = tmp_path / "made-by-v"
    ctr.run("run", "--rm", "-v", f"{created}:/x", "busybox", "true")
    assert created.is_dir()  # -v creates a missing host dir, as docker does


def test_image_volume_is_initialised_like_docker(ctr, oracle):
    script = "ls -ln /data | tail -n +2; stat -c '%u %g %a' /data; cat /data/seed.txt"
    mine = ctr.run("run", "--rm", "--entrypoint", "sh", "cfgimage", "-c", script)
    theirs = oracle.run("run", "--rm", "--network", "none", "--entrypoint", "sh", "cfgimage", "-c", script)
    assert mine.stdout == theirs.stdout
    assert b"from the image" in mine.stdout


def test_named_volume_outlives_containers_and_rm_v_drops_anonymous_ones(ctr):
    ctr.run("run", "--rm", "-v", "keep:/k", "busybox", "sh", "-c", "echo kept > /k/file")
    assert ctr.out("run", "--rm", "-v", "keep:/k", "busybox", "cat", "/k/file") == "kept\n"
    ctr.run("run", "--name", "anon", "--entrypoint", "sh", "cfgimage", "-c", "echo new > /data/new")
    source = ctr.out("inspect", "--format", "{{range .Mounts}}{{.Source}}{{end}}", "anon").strip()
    assert open(f"{source}/new").read() == "new\n"
    ctr.run("rm", "-v", "anon")
    volumes = ctr.root / "volumes"
    assert not (volumes / source.split("/")[-2]).exists()
    assert (volumes / "keep" / "_data" / "file").exists()


def test_tmpfs_mount(ctr):
    out = ctr.out("run", "--rm", "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m", "--tmpfs", "/run2",
                  "busybox", "sh", "-c", "grep -E ' /(scratch|run2) ' /proc/mounts | cut -d' ' -f1-3")
    assert out.splitlines() == ["tmpfs /scratch tmpfs", "tmpfs /run2 tmpfs"]
