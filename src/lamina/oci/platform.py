"""Platforms (os/architecture/variant) and this machine's default."""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass

_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "i386": "386"}


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    def matches(self, os: str, architecture: str, variant: str = "") -> bool:
        if (os, architecture) != (self.os, self.architecture):
            return False
        return not self.variant or not variant or self.variant == variant


def host_platform() -> Platform:
    machine = _platform.machine().lower()
    arch = _ARCH_ALIASES.get(machine, machine)
    variant = "v8" if arch == "arm64" else ("v7" if machine == "armv7l" else "")
    return Platform("linux", arch, variant)


def parse_platform(text: str) -> Platform:
    parts = text.lower().split("/")
    if len(parts) == 1:
        return Platform("linux", _ARCH_ALIASES.get(parts[0], parts[0]))
    return Platform(parts[0], _ARCH_ALIASES.get(parts[1], parts[1]), parts[2] if len(parts) > 2 else "")
