"""Chain IDs, with the vectors of opencontainers/image-spec identity/chainid_test.go."""

from __future__ import annotations

import hashlib

import pytest

from lamina.oci.identity import chain_id, chain_ids


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


CHAIN_AB = _sha256("sha256:a sha256:b")
CHAIN_ABC = _sha256(CHAIN_AB + " sha256:c")


def test_chain_ids_of_no_layers_is_empty():
    assert chain_ids([]) == []


def test_chain_id_of_no_layers_is_refused():
    with pytest.raises(ValueError):
        chain_id([])


def test_chain_id_of_one_layer_is_its_diff_id():
    assert chain_ids(["sha256:a"]) == ["sha256:a"]
    assert chain_id(["sha256:a"]) == "sha256:a"


def test_chain_id_of_two_layers():
    assert chain_ids(["sha256:a", "sha256:b"]) == ["sha256:a", CHAIN_AB]
    assert chain_id(["sha256:a", "sha256:b"]) == CHAIN_AB


def test_chain_id_of_three_layers():
    assert chain_ids(["sha256:a", "sha256:b", "sha256:c"]) == ["sha256:a", CHAIN_AB, CHAIN_ABC]
    assert chain_id(("sha256:a", "sha256:b", "sha256:c")) == CHAIN_ABC


def test_chain_ids_do_not_change_their_input():
    diff_ids = ["sha256:a", "sha256:b"]
    chain_ids(diff_ids)
    assert diff_ids == ["sha256:a", "sha256:b"]


def test_chain_id_of_real_digests():
    # Worked by hand: sha256 over the ASCII text "<parent chain> <diffID>".
    lower = "sha256:" + "1" * 64
    upper = "sha256:" + "2" * 64
    expected = "sha256:" + hashlib.sha256(f"{lower} {upper}".encode()).hexdigest()
    assert chain_id([lower, upper]) == expected
