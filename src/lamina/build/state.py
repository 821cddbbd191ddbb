"""What a build stage has made so far, handed between the executor and its steps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec


class StageState(msgspec.Struct, frozen=True):
    """An image as a stage sees it between two steps.

    ``image_id`` is the image the previous step produced ("" for ``FROM scratch`` before the
    first step); ``config`` its container config (``Env``, ``Cmd``, ``WorkingDir``, ``User``,
    ``Shell`` …); ``diff_ids`` its layers, bottom first; ``history`` its history entries.
    """

    image_id: str
    config: Mapping[str, Any]
    diff_ids: tuple[str, ...] = ()
    history: tuple[Mapping[str, Any], ...] = ()
    author: str | None = None
    cmd_set: bool = False
    platform: Mapping[str, str] = msgspec.field(default_factory=dict)  # architecture, os, variant
