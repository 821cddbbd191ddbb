"""BuildKit's parser test data, read in place: lamina's syntax tree must print the same s-expressions."""

from __future__ import annotations

import pytest
from buildkit_testdata import (
    PARSER_CASES,
    PARSER_LINE_CASE,
    PARSER_NEGATIVE_CASES,
    case_dirs,
    require,
)

from lamina.build.dockerfile.parser import parse
from lamina.errors import DockerfileError

POSITIVE = case_dirs(PARSER_CASES)
NEGATIVE = case_dirs(PARSER_NEGATIVE_CASES)


def test_conformance_data_is_present():
    require(PARSER_CASES)
    require(PARSER_NEGATIVE_CASES)
    assert len(POSITIVE) >= 30 and len(NEGATIVE) >= 4


@pytest.mark.parametrize("case", POSITIVE)
def test_buildkit_parser_case_dumps_identically(case):
    folder = PARSER_CASES / case
    expected = require(folder / "result").read_text(encoding="utf-8")
    parsed = parse(require(folder / "Dockerfile").read_bytes())
    assert parsed.dump() == expected


@pytest.mark.parametrize("case", NEGATIVE)
def test_buildkit_negative_case_is_rejected(case):
    with pytest.raises(DockerfileError):
        parse(require(PARSER_NEGATIVE_CASES / case / "Dockerfile").read_bytes())


def test_buildkit_line_numbers_case():
    parsed = parse(require(PARSER_LINE_CASE).read_bytes())
    assert [(node.start_line, node.end_line) for node in parsed.nodes] == [(5, 5), (11, 12), (17, 31)]
