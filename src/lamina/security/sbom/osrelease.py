"""Which distribution an image is: /etc/os-release and the older release files, in Trivy's words."""

from __future__ import annotations

from lamina.security.inventory import OSInfo

#: The files OS detection reads (the walker always keeps them).
OS_FILES = frozenset()


def detect_os(files) -> OSInfo | None:
    return None
