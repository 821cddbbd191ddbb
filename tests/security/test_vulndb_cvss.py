"""CVSS v3 base scores agree with the ``cvss`` package (Red Hat's calculator) on every base vector."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from lamina.security.vulndb.cvss import base_score, severity

DATA = Path(__file__).parent / "data"
_METRICS = {"AV": "NALP", "AC": "LH", "PR": "NLH", "UI": "NR", "S": "UC", "C": "HLN", "I": "HLN", "A": "HLN"}


def _oracle_score(vector: str) -> float:
    try:
        from cvss import CVSS3
    except ImportError:
        pytest.fail("the cvss package is missing: run 'make test' (pyproject's [dev] extra installs it)")
    return float(CVSS3(vector).base_score)


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_every_base_vector_scores_as_the_reference_calculator(version):
    wrong = []
    for values in itertools.product(*_METRICS.values()):
        vector = f"CVSS:{version}/" + "/".join(f"{m}:{v}" for m, v in zip(_METRICS, values, strict=True))
        if base_score(vector) != _oracle_score(vector):
            wrong.append(vector)
    assert not wrong


def test_vectors_of_real_records_score_as_the_reference_calculator():
    vectors = []
    for record_file in sorted((DATA / "osv-pypi").rglob("*.yaml")):
        record = yaml.safe_load(record_file.read_text())
        vectors += [s["score"] for s in record.get("severity", []) if s["type"] == "CVSS_V3"]
    assert len(vectors) >= 4
    assert [base_score(v) for v in vectors] == [_oracle_score(v) for v in vectors]


def test_temporal_metrics_do_not_change_the_base_score():
    base = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert base_score(base + "/E:U/RL:O/RC:U") == base_score(base) == _oracle_score(base)


@pytest.mark.parametrize("vector", [
    "", "CVSS:2.0/AV:N", "AV:N/AC:L/Au:N/C:P/I:P/A:P", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
])
def test_a_vector_that_is_not_cvss_v3_has_no_score(vector):
    assert base_score(vector) is None
    assert severity(base_score(vector)) == "UNKNOWN"


def test_severity_thresholds():
    assert [severity(s) for s in (10.0, 9.0, 8.9, 7.0, 6.9, 4.0, 3.9, 0.1, 0.0, None)] == [
        "CRITICAL", "CRITICAL", "HIGH", "HIGH", "MEDIUM", "MEDIUM", "LOW", "LOW", "UNKNOWN", "UNKNOWN"]
