"""``lamina version``, ``lamina info`` and the ``image`` group's docker aliases."""

from __future__ import annotations

import json
import os
import re

from tests.conftest import Lamina


def test_version_names_lamina_and_the_runtime(lamina: Lamina):
    out = lamina.out("version")
    assert re.search(r"^ Version:\s+\S+$", out, re.MULTILINE)
    assert re.search(r"^ OS/Arch:\s+linux/\w+$", out, re.MULTILINE)
    document = json.loads(lamina.out("version", "--format", "{{json .}}"))
    assert document["Client"]["Version"] == lamina.out("version", "-f", "{{.Client.Version}}").strip()


def test_info_counts_images_and_uses_dockers_keys(lamina: Lamina, busybox_tar):
    assert lamina.out("info", "--format", "{{.Images}}") == "0\n"
    lamina.out("import", str(busybox_tar), "one:1")
    lamina.out("import", str(busybox_tar), "two:1", "-c", "ENV X=1")
    document = json.loads(lamina.out("info", "--format", "{{json .}}"))
    assert document["Images"] == 2 and document["Containers"] == 0
    assert document["NCPU"] == os.cpu_count() and document["MemTotal"] > 0
    assert document["DockerRootDir"] == str(lamina.root)
    assert document["KernelVersion"] == os.uname().release
    out = lamina.out("info")
    assert "Images: 2\n" in out and f"Lamina Root Dir: {lamina.root}\n" in out
    assert lamina.out("system", "info", "-f", "{{.OSType}}") == "linux\n"


def test_image_group_offers_dockers_subcommands(lamina: Lamina):
    help_text = lamina.out("image", "--help")
    for name in ("build", "pull", "push", "save", "load", "import", "ls", "rm", "prune", "tag", "history",
                 "inspect"):
        assert re.search(rf"^  {name}\s", help_text, re.MULTILINE), name
    assert "Download an image" in lamina.out("image", "pull", "--help")
    assert "must be lowercase" in lamina.fails("image", "pull", "lower/UPPER")
