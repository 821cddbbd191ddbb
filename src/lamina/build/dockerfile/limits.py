"""How big a Dockerfile, an expanded word, an instruction and an image config may grow.

Word expansion multiplies: ``ARG A1=$A0$A0…`` ten times over twelve levels asks for a
terabyte. docker has no such limits and grows until it is killed; lamina refuses, naming the
line, before it holds more than about one limit's worth in memory. The numbers are far above
anything a real Dockerfile needs (documented in docs/dockerfile.md).
"""

from __future__ import annotations

MiB = 1024 * 1024

#: The Dockerfile itself (buildx refuses a remote Dockerfile over 2 MB; BuildKit's gRPC messages
#: stop around 4 MiB).
MAX_DOCKERFILE = 4 * MiB
#: One word after ``$VAR`` expansion, in characters.
MAX_WORD = 1 * MiB
#: All the expanded words of one instruction together (a COPY of many sources, a LABEL of many pairs).
MAX_INSTRUCTION = 4 * MiB
#: The ENV and LABEL values of an image config (and the build's variables: ARG values plus ENV).
MAX_CONFIG = 16 * MiB


def human(size: int) -> str:
    """``1 MiB``, ``16 MiB``: how the limits are written in messages."""
    return f"{size // MiB} MiB" if size % MiB == 0 else f"{size} bytes"
