"""The rule registry: every DL rule with hadolint's code, default level and message.

A rule is a function over the steps of a Dockerfile that yields the line numbers where it fails;
:func:`simple_rule` turns a per-step predicate into one. Rules that hadolint also applies to
ONBUILD triggers say ``onbuild=True``: they run a second time, with fresh state, over the
unwrapped triggers (hadolint's ``rule <> onbuild rule``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from lamina.security.lint.model import Step

LEVELS = ("error", "warning", "info", "style", "ignore")


@dataclass(frozen=True)
class LintSettings:
    """What a rule may read from the configuration (hadolint's config file options)."""

    trusted_registries: tuple[str, ...] = ()
    label_schema: dict[str, str] = field(default_factory=dict)
    strict_labels: bool = False


Check = Callable[[list[Step], LintSettings], Iterable[int]]


@dataclass(frozen=True)
class Rule:
    code: str
    level: str
    message: str
    check: Check
    onbuild: bool = False


RULES: dict[str, Rule] = {}


def rule(code: str, level: str, message: str, *, onbuild: bool = False) -> Callable[[Check], Check]:
    """Register a check that walks the steps itself (rules with state across instructions)."""

    def register(check: Check) -> Check:
        RULES[code] = Rule(code, level, message, check, onbuild)
        return check

    return register


def simple_rule(
    code: str, level: str, message: str, *, onbuild: bool = False
) -> Callable[[Callable[[Step], bool]], Callable[[Step], bool]]:
    """Register a predicate that says, for one step, whether it is fine (True) or fails."""

    def register(is_fine: Callable[[Step], bool]) -> Callable[[Step], bool]:
        def check(steps: list[Step], settings: LintSettings) -> Iterator[int]:
            return (step.line for step in steps if not is_fine(step))

        RULES[code] = Rule(code, level, message, check, onbuild)
        return is_fine

    return register
