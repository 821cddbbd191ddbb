"""Misconfiguration checks of an image's config and history, reported under Trivy's DS IDs.

``check_image_config(config_bytes)`` rebuilds the Dockerfile the history implies and runs the
checks over it; the result says which failed, where (the implied Dockerfile's line), and how
many passed.
"""

from __future__ import annotations

import json

import msgspec

from lamina.errors import ManifestError
from lamina.security.misconfig.checks import CHECKS, Misconfiguration, evaluate
from lamina.security.misconfig.history import implied_dockerfile

__all__ = ["CHECKS", "ConfigCheckResult", "Misconfiguration", "check_image_config"]


class ConfigCheckResult(msgspec.Struct, kw_only=True):
    """The checks' verdict on one image config."""

    failures: list[Misconfiguration]
    successes: int
    dockerfile: list[str]  # the implied Dockerfile the line numbers refer to


def check_image_config(config_bytes: bytes) -> ConfigCheckResult:
    """Run every check over the config (exact bytes of the image's config blob)."""
    try:
        config = json.loads(config_bytes)
    except ValueError as error:
        raise ManifestError(f"image config is not JSON: {error}") from None
    if not isinstance(config, dict):
        raise ManifestError("image config is not a JSON object")
    lines, instructions = implied_dockerfile(config)
    run_config = config.get("config") if isinstance(config.get("config"), dict) else {}
    failures, passed = evaluate(instructions, run_config)
    return ConfigCheckResult(failures=failures, successes=passed, dockerfile=lines)
