"""``lamina.Client(host="ssh://…")``: the Python API against another host's store, compared
with the local Client on that host's own store (same documents, same behaviour)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow


def _python_on(host, code: str) -> dict:
    """Run ``code`` with the Python API on ``host`` (its namespace, its environment); its JSON."""
    result = subprocess.run(host.inside(sys.executable, "-c", textwrap.dedent(code)), capture_output=True,
                            env=host.env(), timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def test_remote_client_images_and_containers_match_the_local_client(hosts, busybox_tar):
    host_a, host_b = hosts
    image_id = host_b.out("import", str(busybox_tar), "busybox:latest").strip()
    remote = _python_on(host_a, """
        import json, lamina
        client = lamina.Client(host="ssh://hostB")
        images = client.images.list()
        image = client.images.get("busybox")
        output = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], remove=True)
        web = client.containers.run("busybox", ["sleep", "60"], detach=True, name="sleeper",
                                    labels={"role": "test"}, environment={"A": "1"})
        listed = [c.name for c in client.containers.list()]
        logs_entry = client.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2; echo three"],
                                           detach=True)
        logs_entry.wait()
        logs = [(e.stream, e.text) for e in logs_entry.logs()]
        try:
            client.containers.run("busybox", ["sh", "-c", "echo boom >&2; exit 3"], remove=True)
            failed = None
        except lamina.ContainerError as exc:
            failed = [exc.exit_status, exc.stderr]
        try:
            client.images.get("nothere:1")
            missing = None
        except lamina.ImageNotFoundError as exc:
            missing = str(exc)
        web.stop(timeout=0)
        web.reload()
        status = web.status
        web.remove()
        print(json.dumps({"ids": [i.id for i in images], "attrs": image.attrs, "output": output.decode(),
                          "listed": listed, "env": web.attrs["Config"]["Env"], "labels": web.labels,
                          "logs": logs, "failed": failed, "missing": missing, "status": status,
                          "logs_id": logs_entry.id,
                          "left": [c.id for c in client.containers.list(all=True)]}))
    """)
    local = _python_on(host_b, f"""
        import json, lamina
        with lamina.Client() as client:
            logged = client.containers.get("{remote['logs_id']}")
            logs = [(e.stream, e.text) for e in logged.logs()]
            logged.remove()
            print(json.dumps({{"ids": [i.id for i in client.images.list()], "logs": logs,
                              "attrs": client.images.get("busybox").attrs}}))
    """)
    assert remote["ids"] == local["ids"] == [image_id]
    assert remote["attrs"] == local["attrs"]
    assert remote["output"] == "out\n"
    assert remote["listed"] == ["sleeper"]
    assert "A=1" in remote["env"] and remote["labels"] == {"role": "test"}
    assert remote["logs"] == local["logs"]
    assert sorted(map(tuple, remote["logs"])) == [("stderr", "two\n"), ("stdout", "one\n"), ("stdout", "three\n")]
    assert remote["failed"] == [3, "boom\n"]
    assert "No such image" in remote["missing"]
    assert remote["status"] == "exited"
    assert remote["left"] == [remote["logs_id"]]
    assert host_a.out("ps", "-aq") == ""


def test_client_with_a_bad_host_is_refused_at_once():
    import lamina

    with pytest.raises(lamina.LaminaError, match="unsupported host 'tcp://h:2375'"):
        lamina.Client(host="tcp://h:2375")
