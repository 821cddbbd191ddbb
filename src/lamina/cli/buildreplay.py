"""A fully cached build's answer, recorded by an earlier build: looked up through the metadata
database alone and printed as that build printed it. Shared by the entry point's build door
(:mod:`lamina.cli.fastbuild`) and the build command (:mod:`lamina.cli.buildrun`)."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

__all__ = ["print_replay", "recorded_answer"]


def recorded_answer(root: str | None, request):
    """The fast path's recorded answer for ``request`` in the store at ``root`` (default store
    when None), read through the metadata database alone; None when there is none."""
    from lamina.build.fastpath import lookup
    from lamina.store.location import default_root
    from lamina.store.metadata import Metadata

    database = os.path.join(root or default_root(), "metadata.db")
    if not os.path.isfile(database):
        return None
    meta = Metadata(database)
    try:
        return lookup(SimpleNamespace(meta=meta), request)
    finally:
        meta.close()


def print_replay(answer, mode: str, iidfile: str | None) -> None:
    """What the fully cached build prints (quiet: the ID; tty: the live display's last frame)."""
    if mode == "quiet":
        sys.stdout.write(answer.image_id + "\n")
    elif mode == "tty":
        from lamina.cli.buildtty import replay

        replay(answer.transcript, answer.image_id)
    else:
        for stream, text in answer.transcript:
            (sys.stderr if stream == "err" else sys.stdout).write(text + "\n")
    if iidfile:
        with open(iidfile, "w") as out:
            out.write(answer.image_id)
