"""commit and export, and what containers mean for rmi, image prune and system df."""

from __future__ import annotations

import io
import json
import tarfile


def test_commit_makes_a_layer_and_history_like_docker(ctr):
    ctr.run("run", "--name", "builder", "busybox", "sh", "-c", "echo made > /made.txt; rm /www/index.html")
    image_id = ctr.out("commit", "-m", "my change", "-a", "me", "-c", "ENV COMMITTED=1", "builder",
                       "committed:v1").strip()
    assert image_id.startswith("sha256:")
    assert ctr.out("run", "--rm", "committed:v1", "sh", "-c",
                   "cat /made.txt; ls /www | wc -l; echo $COMMITTED") == "made\n0\n1\n"
    history = ctr.out("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "committed:v1")
    assert history.splitlines()[0] == "sh -c echo made > /made.txt; rm /www/index.html|my change"
    document = json.loads(ctr.out("inspect", "committed:v1"))[0]
    assert document["Author"] == "me" and document["Parent"] == ctr.out("inspect", "--format", "{{.Id}}",
                                                                          "busybox").strip()
    assert len(document["RootFS"]["Layers"]) == 2
    # nothing the runtime mounted (hosts, resolv.conf, /proc…) is part of the layer
    assert ctr.run("save", "committed:v1").returncode == 0
    unchanged = ctr.out("commit", ctr.out("create", "busybox", "true").strip())
    assert len(json.loads(ctr.out("inspect", unchanged.strip()))[0]["RootFS"]["Layers"]) == 1


def test_export_writes_the_container_filesystem(ctr):
    ctr.run("run", "--name", "exported", "busybox", "sh", "-c", "echo data > /exported.txt")
    archive = ctr.run("export", "exported").stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("exported.txt").read() == b"data\n"
    assert {"bin/busybox", "etc/passwd", "www/index.html"} <= names


def test_rmi_refuses_an_image_a_container_uses(ctr):
    ctr.run("tag", "busybox", "inuse:1")
    container_id = ctr.out("create", "inuse:1", "true").strip()
    image_id = ctr.out("inspect", "--format", "{{.Id}}", "inuse:1").strip()
    ctr.run("rmi", "busybox:latest", check=False)  # untagging one of several names is fine
    error = ctr.run("rmi", "inuse:1", check=False).stderr.decode()
    assert error == (f'lamina: error: conflict: unable to remove repository reference "inuse:1" (must force) - '
                     f"container {container_id[:12]} is using its referenced image {image_id[7:19]}\n")
    ctr.run("image", "prune", "-a", "-f")
    assert ctr.out("inspect", "--format", "{{.Id}}", "inuse:1").strip() == image_id
    assert "Untagged: inuse:1" in ctr.out("rmi", "-f", "inuse:1")
    assert ctr.out("run", "--rm", image_id, "echo", "still runs") == "still runs\n"
    ctr.run("rm", container_id)
    ctr.run("tag", image_id, "busybox:latest")
    assert "Containers" in ctr.out("system", "df")
