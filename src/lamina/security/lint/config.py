"""Lint settings: what the command line and a ``.hadolint.yaml`` say.

The file keys are hadolint's (``ignored``, ``failure-threshold``, ``trustedRegistries``,
``override``, ``label-schema``, ``strict-labels``, ``disable-ignore-pragma``, ``no-fail``), so a
project that already has a hadolint config gets the same result from ``lamina lint``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from lamina.errors import UsageError
from lamina.security.lint.registry import LEVELS, LintSettings

THRESHOLDS = (*LEVELS, "none")
CONFIG_NAMES = (".hadolint.yaml", ".hadolint.yml")
_MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class LintConfig:
    ignored: frozenset[str] = frozenset()
    failure_threshold: str = "info"
    trusted_registries: tuple[str, ...] = ()
    overrides: dict[str, str] = field(default_factory=dict)  # rule code → level
    label_schema: dict[str, str] = field(default_factory=dict)
    strict_labels: bool = False
    disable_ignore_pragma: bool = False
    no_fail: bool = False
    shellcheck: bool = True

    @property
    def settings(self) -> LintSettings:
        return LintSettings(self.trusted_registries, dict(self.label_schema), self.strict_labels)

    def merged(self, **changes: object) -> LintConfig:
        return replace(self, **changes)  # type: ignore[arg-type]


def check_level(value: str, where: str) -> str:
    level = "ignore" if value == "none" else value
    if level not in LEVELS:
        raise UsageError(f"invalid severity {value!r} ({where}); use one of {', '.join(THRESHOLDS)}")
    return level


def find_config(start: Path) -> Path | None:
    """The ``.hadolint.yaml`` in ``start`` (the working directory), as hadolint looks first."""
    for name in CONFIG_NAMES:
        candidate = start / name
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path, base: LintConfig | None = None) -> LintConfig:
    """Read a hadolint config file on top of ``base``; bad content names the file."""
    import yaml

    base = base or LintConfig()
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read lint config {path}: {exc.strerror}") from None
    if len(raw) > _MAX_CONFIG_BYTES:
        raise UsageError(f"lint config {path} is larger than 1 MiB")
    try:
        document = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise UsageError(f"invalid YAML in lint config ({path}{line})") from None
    if not isinstance(document, dict):
        raise UsageError(f"lint config must be a mapping ({path})")
    where = str(path)
    overrides = dict(base.overrides)
    for level, codes in (document.get("override") or {}).items():
        for code in _strings(codes, f"{where}: override.{level}"):
            overrides[code] = check_level(str(level), where)
    schema = {str(k): str(v or "text") for k, v in (document.get("label-schema") or {}).items()}
    return replace(
        base,
        ignored=base.ignored | frozenset(_strings(document.get("ignored"), f"{where}: ignored")),
        failure_threshold=check_level(str(document["failure-threshold"]), where)
        if "failure-threshold" in document
        else base.failure_threshold,
        trusted_registries=base.trusted_registries
        + tuple(_strings(document.get("trustedRegistries"), f"{where}: trustedRegistries")),
        overrides=overrides,
        label_schema={**base.label_schema, **schema},
        strict_labels=bool(document.get("strict-labels", base.strict_labels)),
        disable_ignore_pragma=bool(document.get("disable-ignore-pragma", base.disable_ignore_pragma)),
        no_fail=bool(document.get("no-fail", base.no_fail)),
    )


def _strings(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UsageError(f"expected a list of strings ({where})")
    return list(value)
