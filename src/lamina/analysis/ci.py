"""dive's CI rules: lowestEfficiency, highestWastedBytes, highestUserWastedPercent.

Same names, defaults (0.9, disabled, 0.1), value syntax ("disabled"; ratios 0-1; sizes as
go-humanize parses them: "20MB" is 20 000 000 bytes, "20MiB" 20 971 520) and precedence as dive:
a flag given on the command line beats the ``.dive-ci`` file's ``rules:``, which beats the
defaults. The report has dive's lines (``PASS: name``, ``FAIL: name: why``, the ``Result:``
tally) without colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from lamina.analysis.report import AnalysisReport, go_float, human_bytes, inefficient_table
from lamina.errors import UsageError

__all__ = ["RULES", "DEFAULTS", "RuleResult", "CiOutcome", "load_rules", "evaluate", "parse_bytes"]

RULES = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")
DEFAULTS = {"lowestEfficiency": "0.9", "highestWastedBytes": "disabled", "highestUserWastedPercent": "0.1"}
#: the largest .dive-ci file read (a rules file is a few lines)
_CONFIG_MAX = 1 << 20


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: str
    status: str  # PASS, FAIL, SKIP or MISCONFIGURED
    message: str = ""


@dataclass(frozen=True, slots=True)
class CiOutcome:
    passed: bool
    misconfigured: bool
    results: list[RuleResult]

    def report(self, analysis: AnalysisReport) -> str:
        """dive's CI report: the inefficient files, one line per rule, the tally."""
        # a misconfigured run stops before dive collects the inefficient files: its table says None
        lines = [inefficient_table(analysis, empty=self.misconfigured), "Results:"]
        for result in sorted(self.results, key=lambda result: result.rule):
            lines.append(f"  {result.status}: {result.rule}" + (f": {result.message}" if result.message else ""))
        if self.misconfigured:
            lines.append("CI Misconfigured")
        else:
            tally = {status: sum(1 for result in self.results if result.status == status)
                     for status in ("PASS", "FAIL", "SKIP")}
            overall = "FAIL" if tally["FAIL"] else "PASS"
            lines.append(f"Result:{overall} [Total:{len(self.results)}] [Passed:{tally['PASS']}] "
                         f"[Failed:{tally['FAIL']}] [Warn:0] [Skipped:{tally['SKIP']}]")
        return "\n".join(lines)


def load_rules(config_file: str | None, flags: dict[str, str | None]) -> dict[str, str]:
    """The rule values in force: flags given, else the config file's ``rules:``, else dive's defaults.

    ``config_file`` None means dive's default, ``.dive-ci`` in the working directory, read when
    it exists; a file named explicitly must exist.
    """
    values = dict(DEFAULTS)
    path = Path(config_file if config_file is not None else ".dive-ci")
    if path.exists():
        values.update(_read_config(path))
    elif config_file is not None:
        raise UsageError(f"CI config file not found: {config_file}")
    values.update({rule: value for rule, value in flags.items() if value is not None})
    return values


def _read_config(path: Path) -> dict[str, str]:
    import yaml

    try:
        with path.open("rb") as handle:
            text = handle.read(_CONFIG_MAX + 1)
    except OSError as exc:
        raise UsageError(f"cannot read CI config {path}: {exc.strerror}") from None
    if len(text) > _CONFIG_MAX:
        raise UsageError(f"CI config {path} is larger than {_CONFIG_MAX} bytes")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise UsageError(f"CI config is not valid YAML ({where})") from None
    rules = document.get("rules") if isinstance(document, dict) else None
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise UsageError(f"CI config {path}: 'rules' must be a mapping")
    return {rule: _config_string(rules[rule]) for rule in RULES if rule in rules and rules[rule] is not None}


def _config_string(value: object) -> str:
    """A YAML value as viper's GetString gives it (0.95 → "0.95", true → "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def evaluate(analysis: AnalysisReport, rules: dict[str, str]) -> CiOutcome:
    """Check every rule; misconfigured values fail the run before any rule is evaluated (as dive)."""
    problems = {rule: _validate(rule, rules[rule]) for rule in RULES if rules[rule] != "disabled"}
    if any(problems.values()):
        # dive's words for a rule that is fine in a misconfigured run: padded status, message "test"
        results = [RuleResult(rule, "MISCONFIGURED", problems[rule]) if problems.get(rule)
                   else RuleResult(rule, "CONFIGURED   ", "rule disabled" if rules[rule] == "disabled" else "test")
                   for rule in RULES]
        return CiOutcome(passed=False, misconfigured=True, results=results)
    results = [RuleResult(rule, "SKIP", "rule disabled") if rules[rule] == "disabled"
               else _check(rule, rules[rule], analysis) for rule in RULES]
    return CiOutcome(passed=all(result.status != "FAIL" for result in results), misconfigured=False,
                     results=results)


def _validate(rule: str, value: str) -> str:
    """dive's configuration check of one rule: "" when the value is usable."""
    if rule == "highestWastedBytes":
        try:
            parse_bytes(value)
        except ValueError as exc:
            return f"invalid config value ('{value}'): {exc}"
        return ""
    ratio = _go_parse_float(value)
    if ratio is None:
        return f"invalid config value ('{value}'): strconv.ParseFloat: parsing \"{value}\": invalid syntax"
    if ratio < 0 or ratio > 1:
        return f"{rule} config value is outside allowed range (0-1), given '{value}'"
    return ""


def _check(rule: str, value: str, analysis: AnalysisReport) -> RuleResult:
    if rule == "lowestEfficiency":
        threshold = _go_parse_float(value)
        assert threshold is not None
        if threshold > analysis.efficiency:
            return RuleResult(rule, "FAIL", f"image efficiency is too low (efficiency={go_float(analysis.efficiency)} "
                                            f"< threshold={go_float(threshold)})")
        return RuleResult(rule, "PASS")
    if rule == "highestWastedBytes":
        limit = parse_bytes(value)
        if analysis.wasted_bytes > limit:
            return RuleResult(rule, "FAIL", f"too many bytes wasted (wasted-bytes={analysis.wasted_bytes} > "
                                            f"threshold={limit})")
        return RuleResult(rule, "PASS")
    threshold = _go_parse_float(value)
    assert threshold is not None
    if threshold < analysis.user_wasted_percent:  # NaN compares false: an image with no user bytes passes
        return RuleResult(rule, "FAIL", "too many bytes wasted, relative to the user bytes added "
                                        f"(%-user-wasted-bytes={go_float(analysis.user_wasted_percent)} > "
                                        f"threshold={go_float(threshold)})")
    return RuleResult(rule, "PASS")


def _go_parse_float(value: str) -> float | None:
    """strconv.ParseFloat's accepted syntax (no spaces or underscores between digits)."""
    if not value or value != value.strip() or "_" in value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


_BYTE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "ki": 2**10, "kib": 2**10, "m": 10**6, "mb": 10**6,
               "mi": 2**20, "mib": 2**20, "g": 10**9, "gb": 10**9, "gi": 2**30, "gib": 2**30, "t": 10**12,
               "tb": 10**12, "ti": 2**40, "tib": 2**40, "p": 10**15, "pb": 10**15, "pi": 2**50, "pib": 2**50,
               "e": 10**18, "eb": 10**18, "ei": 2**60, "eib": 2**60}


def parse_bytes(text: str) -> int:
    """go-humanize's ParseBytes: a number (commas allowed) and an optional unit, case-insensitive."""
    last_digit = 0
    has_comma = False
    for position, char in enumerate(text):
        if not (char.isdigit() or char == "." or char == ","):
            break
        has_comma = has_comma or char == ","
        last_digit = position + 1
    number = text[:last_digit].replace(",", "") if has_comma else text[:last_digit]
    unit = text[last_digit:].strip().lower()
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"strconv.ParseFloat: parsing \"{number}\": invalid syntax") from None
    if unit not in _BYTE_UNITS:
        raise ValueError(f"unhandled size name: {unit}")
    total = amount * _BYTE_UNITS[unit]
    if total >= 2**64 or not math.isfinite(total):
        raise ValueError(f"too large: {text}")
    return int(total)


def summary_lines(analysis: AnalysisReport) -> list[str]:
    """dive's three CI lines: efficiency, wasted bytes, user wasted percent."""
    from lamina.analysis.report import go_percent

    return [f"  efficiency: {go_percent(analysis.efficiency)} %",
            f"  wastedBytes: {analysis.wasted_bytes} bytes ({human_bytes(analysis.wasted_bytes)})",
            f"  userWastedPercent: {go_percent(analysis.user_wasted_percent)} %"]
