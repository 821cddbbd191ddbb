"""Images of another architecture: import --platform sets the config, run --platform runs it
through qemu user emulation (binfmt_misc), uname -m inside says so."""

from __future__ import annotations

import json
from pathlib import Path


def test_import_platform_sets_config(lamina, arm64_tar: Path, arm64_rootfs: Path):
    lamina.out("import", "--platform", "linux/arm64", str(arm64_tar), "bb:arm64")
    config = json.loads(lamina.out("image", "inspect", "bb:arm64"))[0]
    assert (config["Os"], config["Architecture"]) == ("linux", "arm64")
    # the rootfs really is arm64: e_machine of the ELF header is EM_AARCH64 (183)
    header = (arm64_rootfs / "bin" / "busybox").read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183


def test_run_platform_arm64_prints_aarch64(lamina, arm64_tar: Path, qemu_arm64):
    lamina.out("import", "--platform", "linux/arm64", str(arm64_tar), "bb:arm64")
    assert lamina.out("run", "--rm", "--platform", "linux/arm64", "bb:arm64", "uname", "-m").strip() == "aarch64"
    # a shell pipeline: every process of the container is emulated, not only the first
    assert lamina.out("run", "--rm", "--platform", "linux/arm64", "bb:arm64", "sh", "-c",
                      "uname -m | wc -c").strip() == "8"


def test_run_platform_mismatch_never_pulls(lamina, arm64_tar: Path):
    lamina.out("import", "--platform", "linux/arm64", str(arm64_tar), "bb:arm64")
    error = lamina.fails("run", "--rm", "--pull", "never", "--platform", "linux/amd64", "bb:arm64", "true")
    assert "does not match the specified platform" in error and "linux/arm64" in error
