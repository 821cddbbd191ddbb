"""commit and export, and what containers mean for rmi, image prune and system df."""

from __future__ import annotations

import io
import json
import tarfile


def _top_layer_names(archive: bytes) -> set[str]:
    """The member names of the last layer of the one image in a ``save`` archive (docker's layout)."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))
        layer = saved.extractfile(manifest[0]["Layers"][-1]).read()
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        return {name.rstrip("/").removeprefix("./") for name in tar.getnames()}


def _commit(tool) -> tuple[str, set[str], int]:
    """Run the same change, commit it; (first history line, top layer's names, layer count)."""
    tool.run("run", "--name", "builder", "--network", "none", "busybox", "sh", "-c",
             "echo made > /made.txt; rm /www/index.html")
    try:
        tool.run("commit", "-m", "my change", "-a", "me", "-c", "ENV COMMITTED=1", "builder", "committed:v1")
    finally:
        tool.run("rm", "-f", "builder", check=False)
    history = tool.out("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "committed:v1")
    layers = json.loads(tool.out("inspect", "committed:v1"))[0]["RootFS"]["Layers"]
    return history.splitlines()[0], _top_layer_names(tool.run("save", "committed:v1").stdout), len(layers)


def test_commit_makes_a_layer_and_history_like_docker(ctr, oracle):
    ours, theirs = _commit(ctr), _commit(oracle)
    oracle.run("rmi", "committed:v1")
    assert ours == theirs
    assert ours[0] == "sh -c echo made > /made.txt; rm /www/index.html|my change"
    # the layer holds the change and nothing the runtime mounted (hosts, resolv.conf, /proc, /dev…)
    assert {"made.txt", "www/.wh.index.html"} <= ours[1]
    assert not {"etc/hosts", "etc/hostname", "etc/resolv.conf", "proc", "sys", "dev"} & ours[1], ours[1]
    assert ctr.out("run", "--rm", "committed:v1", "sh", "-c",
                   "cat /made.txt; ls /www | wc -l; echo $COMMITTED") == "made\n0\n1\n"
    document = json.loads(ctr.out("inspect", "committed:v1"))[0]
    assert document["Author"] == "me" and document["Parent"] == ctr.out("inspect", "--format", "{{.Id}}",
                                                                          "busybox").strip()
    layers = {}
    for label, tool in (("lamina", ctr), ("docker", oracle)):  # an unchanged container adds no layer
        unchanged = tool.out("commit", tool.out("create", "busybox", "true").strip().splitlines()[-1]).strip()
        layers[label] = json.loads(tool.out("inspect", unchanged))[0]["RootFS"]["Layers"]
    assert layers["lamina"] == layers["docker"] and len(layers["lamina"]) == 1


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
