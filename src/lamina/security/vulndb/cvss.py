"""CVSS v3 base scores from vectors, and the severity words reports use for them.

The formula and its rounding are the FIRST specification's (v3.0 and v3.1 differ only in how
they round up). Records carry the vector, not the score; the score is computed here so that
every source gets the same severity for the same vector.
"""

from __future__ import annotations

import math

_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_BASE_METRICS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


def base_score(vector: str) -> float | None:
    """The base score of a ``CVSS:3.x/AV:…`` vector; None when the vector is not a valid v3 one."""
    version, metrics = _parse(vector)
    if metrics is None:
        return None
    scope_changed = metrics["S"] == "C"
    impact_subscore = 1 - (
        (1 - _WEIGHTS["C"][metrics["C"]]) * (1 - _WEIGHTS["I"][metrics["I"]]) * (1 - _WEIGHTS["A"][metrics["A"]])
    )
    if scope_changed:
        impact = 7.52 * (impact_subscore - 0.029) - 3.25 * (impact_subscore - 0.02) ** 15
    else:
        impact = 6.42 * impact_subscore
    exploitability = (
        8.22
        * _WEIGHTS["AV"][metrics["AV"]]
        * _WEIGHTS["AC"][metrics["AC"]]
        * _PRIVILEGES[metrics["S"]][metrics["PR"]]
        * _WEIGHTS["UI"][metrics["UI"]]
    )
    if impact <= 0:
        return 0.0
    total = (1.08 if scope_changed else 1.0) * (impact + exploitability)
    return _roundup(min(total, 10.0), version)


def severity(score: float | None) -> str:
    """CRITICAL ≥ 9.0, HIGH ≥ 7.0, MEDIUM ≥ 4.0, LOW > 0; UNKNOWN without a score (or 0.0)."""
    if score is None or score <= 0:
        return "UNKNOWN"
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    return "LOW"


def _parse(vector: str) -> tuple[str, dict[str, str] | None]:
    prefix, _, body = vector.strip().partition("/")
    if prefix not in ("CVSS:3.0", "CVSS:3.1"):
        return "", None
    metrics: dict[str, str] = {}
    for part in body.split("/"):
        name, colon, value = part.partition(":")
        if not colon or name in metrics:
            return prefix, None
        metrics[name] = value
    for name in _BASE_METRICS:
        value = metrics.get(name)
        table = _PRIVILEGES["U"] if name == "PR" else {"U": 0, "C": 0} if name == "S" else _WEIGHTS[name]
        if value not in table:
            return prefix, None
    return prefix, metrics


def _roundup(value: float, version: str) -> float:
    if version == "CVSS:3.0":
        return math.ceil(value * 10) / 10
    scaled = round(value * 100000)
    if scaled % 10000 == 0:
        return scaled / 100000.0
    return (math.floor(scaled / 10000) + 1) / 10.0
