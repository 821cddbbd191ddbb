"""The receiving side of ``image scp``: a partial layout may leave out only layers the store
already holds as checked layers of the same diffID; anything else fails and stores nothing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from lamina.errors import ArchiveError
from lamina.oci.digest import sha256_digest
from lamina.remote.scp import plan_image, serve, write_partial_layout
from lamina.store.store import Store
from tests.conftest import store_listing


def _store_with(tmp_path, name: str, busybox_tar, *extra_files: str) -> Store:
    """A store holding busybox plus, per extra file, an image with one more layer."""
    root = tmp_path / name
    env = {**os.environ, "LAMINA_ROOT": str(root)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "lamina", *args], env=env, check=True,  # noqa: E731
                                       capture_output=True)
    run("import", str(busybox_tar), "busybox:latest")
    for number, text in enumerate(extra_files):
        context = tmp_path / f"{name}-ctx{number}"
        context.mkdir()
        (context / "Dockerfile").write_text(f"FROM busybox\nRUN echo {text} > /marker\n")
        run("build", "-q", "-t", f"app:{number}", str(context))
    return Store(root)


def test_a_layer_left_out_that_the_store_lacks_fails_and_stores_nothing(tmp_path, busybox_tar):
    sender = _store_with(tmp_path, "a", busybox_tar, "one")
    receiver = _store_with(tmp_path, "b", busybox_tar)
    plan = plan_image(sender, sender.resolve("app:0"))
    out = io.BytesIO()
    write_partial_layout(sender, plan, "docker.io/library/app:0", {layer.blob_digest for layer in plan.layers}, out)
    before = store_listing(receiver.root)
    with pytest.raises(ArchiveError, match="is named but missing from the archive"):
        serve(receiver, io.BytesIO(b"\n" + out.getvalue()), io.BytesIO())
    assert store_listing(receiver.root) == before


def test_a_stored_layer_is_not_taken_for_another_diff_id(tmp_path, busybox_tar):
    """A forged config naming the receiver's busybox blob under another diffID is refused."""
    sender = _store_with(tmp_path, "a", busybox_tar, "one")
    receiver = _store_with(tmp_path, "b", busybox_tar)
    plan = plan_image(sender, sender.resolve("app:0"))
    config = json.loads(plan.config_bytes)
    config["rootfs"]["diff_ids"][0] = "sha256:" + "0" * 64
    plan.config_bytes = json.dumps(config).encode()
    plan.image_id = sha256_digest(plan.config_bytes)
    manifest = json.loads(plan.manifest_bytes)
    manifest["config"].update(digest=plan.image_id, size=len(plan.config_bytes))
    plan.manifest_bytes = json.dumps(manifest).encode()
    plan.manifest_digest = sha256_digest(plan.manifest_bytes)
    out = io.BytesIO()
    write_partial_layout(sender, plan, "docker.io/library/forged:1", {plan.layers[0].blob_digest}, out)
    before = store_listing(receiver.root)
    with pytest.raises(ArchiveError, match=f"blob {plan.layers[0].blob_digest} is named but missing"):
        serve(receiver, io.BytesIO(plan.layers[0].blob_digest.encode() + b"\n\n" + out.getvalue()), io.BytesIO())
    assert store_listing(receiver.root) == before


def test_the_answer_names_only_layers_held_and_the_load_takes_them(tmp_path, busybox_tar):
    sender = _store_with(tmp_path, "a", busybox_tar, "one")
    receiver = _store_with(tmp_path, "b", busybox_tar)
    image_id = sender.resolve("app:0")
    plan = plan_image(sender, image_id)
    digests = [layer.blob_digest for layer in plan.layers]
    out = io.BytesIO()
    write_partial_layout(sender, plan, "docker.io/library/app:0", {digests[0]}, out)
    answers = io.BytesIO()
    loaded = serve(receiver, io.BytesIO("".join(f"{d}\n" for d in digests).encode() + b"\n" + out.getvalue()), answers)
    assert answers.getvalue() == digests[0].encode() + b"\n\n"  # busybox's layer only
    assert [image.image_id for image in loaded] == [image_id]
    assert receiver.image_diff_ids(image_id) == sender.image_diff_ids(image_id)
