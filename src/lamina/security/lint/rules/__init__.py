"""The DL rules, grouped by what they look at; importing a module registers its rules."""

from __future__ import annotations

from lamina.security.lint.registry import RULES, Rule


def all_rules() -> dict[str, Rule]:
    """Every DL rule: importing the rule modules registers them in the registry (a leaf that
    never imports them back)."""
    from lamina.security.lint.rules import commands, files, image_config, packages, stages  # noqa: F401

    return RULES
