"""``Client.pull``/``push`` do their work when called (they were generators that did nothing
unless iterated); progress reaches an ``events`` callback; every type a caller meets is
importable from ``lamina`` itself. skopeo is the oracle for what reached the registry."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import lamina
from tests.conftest import require_tool

pytestmark = pytest.mark.registry


def _skopeo_digest(reference: str) -> str:
    skopeo = require_tool("skopeo", "skopeo")
    result = subprocess.run([skopeo, "inspect", "--tls-verify=false", f"docker://{reference}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["Digest"]


def test_push_and_pull_work_without_being_iterated(tmp_path, busybox_tar, anon_registry):
    reference = f"{anon_registry.host}/api/bb:{os.urandom(3).hex()}"
    seen: list[lamina.TransferEvent] = []
    with lamina.Client(root=tmp_path / "one") as client:
        image_id = client.import_image(str(busybox_tar), reference)
        pushed = client.push(reference, events=seen.append)  # the result is not iterated
    digest = _skopeo_digest(reference)  # in the registry before anything looks at the result
    assert seen and all(isinstance(event, lamina.TransferEvent) for event in seen)
    assert [type(result) for result in pushed] == [lamina.PushResult] and pushed[0].digest == digest

    seen.clear()
    with lamina.Client(root=tmp_path / "two") as client:
        pulled = client.pull(reference, events=seen.append)
        assert client.inspect_image(reference)["Id"] == image_id
    [(result, newer)] = pulled
    assert isinstance(result, lamina.PullResult) and newer and result.image_id == image_id
    assert any(event.status == "Pull complete" for event in seen)


def test_the_streaming_variants_are_lazy_and_say_so(tmp_path, busybox_tar, anon_registry):
    reference = f"{anon_registry.host}/api/lazy:{os.urandom(3).hex()}"
    with lamina.Client(root=tmp_path / "store") as client:
        client.import_image(str(busybox_tar), reference)
        stream = client.iter_push(reference)
        assert subprocess.run([require_tool("skopeo", "skopeo"), "inspect", "--tls-verify=false",
                               f"docker://{reference}"], capture_output=True).returncode != 0
        [result] = list(stream)
    assert _skopeo_digest(reference) == result.digest


def test_every_public_name_is_importable_from_lamina():
    names = set(lamina.__all__)
    assert {"Client", "RunOptions", "TransferEvent", "BuildEvent", "StepOutput", "PullResult", "PushResult",
            "BuildResult", "LoadedImage", "ImageSummary", "LaminaError", "RegistryError"} <= names
    for name in names - {"__version__"}:
        assert isinstance(getattr(lamina, name), type), name
    assert issubclass(lamina.StepOutput, lamina.BuildEvent)


def test_import_lamina_loads_none_of_the_lazy_types():
    code = ("import sys, lamina; heavy = [m for m in ('lamina.api', 'lamina.registry.pull', "
            "'lamina.runtime.runconfig', 'lamina.build.events') if m in sys.modules]; print(heavy)")
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
