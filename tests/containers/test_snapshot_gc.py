"""Unpacked layers (snapshots) go when no image needs them, never while something uses them."""

from __future__ import annotations

import json

from lamina.oci.identity import chain_ids


def _snapshot_dirs(ctr) -> set[str]:
    root = ctr.root / "snapshots"
    return {"sha256:" + entry.name for entry in root.iterdir() if not entry.name.startswith("unpack-")}


def _chains(ctr, image: str) -> list[str]:
    return chain_ids(json.loads(ctr.out("image", "inspect", image))[0]["RootFS"]["Layers"])


def test_rmi_and_prune_remove_snapshots_no_image_needs(ctr):
    ctr.run("run", "--name", "gc-src", "busybox", "sh", "-c", "echo one > /gc-file")
    ctr.out("commit", "gc-src", "gc-img:1")
    ctr.run("rm", "gc-src")
    base, top = _chains(ctr, "gc-img:1")
    assert base == _chains(ctr, "busybox")[0]
    assert ctr.out("run", "--rm", "gc-img:1", "cat", "/gc-file") == "one\n"
    assert {base, top} <= _snapshot_dirs(ctr)

    user = ctr.out("create", "gc-img:1", "true").strip()
    ctr.run("rmi", "-f", "gc-img:1")  # a container still uses it: image and snapshots stay
    assert {base, top} <= _snapshot_dirs(ctr)
    assert ctr.out("start", "-a", user) == ""

    ctr.run("rm", user)
    ctr.out("image", "prune", "-f")
    remaining = _snapshot_dirs(ctr)
    assert top not in remaining  # nothing needs the committed layer any more
    assert base in remaining     # busybox still does
    assert ctr.out("run", "--rm", "busybox", "echo", "still runs") == "still runs\n"
