"""Generated container names: docker's shape, never a name already taken."""

from __future__ import annotations

import re

import pytest

from lamina.errors import UsageError
from lamina.runtime import names


def test_generated_names_have_dockers_shape_and_vary() -> None:
    drawn = {names.random_name() for _ in range(50)}
    assert all(re.fullmatch(r"[a-z]+_[a-z]+", name) for name in drawn)
    assert len(drawn) > 40  # drawn from ~10,000 pairs: repeats are rare


def test_a_taken_pair_gets_a_digit_and_a_free_name_is_always_found() -> None:
    every_pair = {f"{a}_{s}" for a in names._ADJECTIVES for s in names._SURNAMES}
    name = names.random_name(every_pair)
    assert name not in every_pair
    assert re.fullmatch(r"[a-z]+_[a-z]+[0-9]", name)


def test_names_docker_refuses_are_refused() -> None:
    assert names.check_name("/web.1_a-b") == "web.1_a-b"
    with pytest.raises(UsageError, match="Invalid container name"):
        names.check_name("-bad")
