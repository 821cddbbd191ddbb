"""Container names: docker-style ``adjective_surname`` when the user gives none, and the rule a
user-given name must follow (docker's ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``)."""

from __future__ import annotations

import os
import re

from lamina.errors import UsageError

__all__ = ["check_name", "random_name"]

_VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

# Our own word lists: moods and colours, and people who shaped computing and science.
_ADJECTIVES = (
    "agile", "amber", "ardent", "azure", "bold", "brave", "bright", "brisk", "calm", "candid", "cheerful",
    "clever", "cobalt", "cosmic", "crimson", "curious", "daring", "dazzling", "eager", "earnest", "elated",
    "fervent", "fierce", "gentle", "gifted", "golden", "graceful", "hardy", "hopeful", "humble", "jolly",
    "keen", "kind", "lively", "loyal", "lucid", "mellow", "merry", "mighty", "modest", "nimble", "noble",
    "patient", "placid", "plucky", "polite", "proud", "quiet", "radiant", "rapid", "serene", "sharp",
    "silent", "sincere", "spry", "steady", "stoic", "sunny", "swift", "tender", "tidy", "tranquil",
    "upbeat", "valiant", "vivid", "warm", "wise", "witty", "zealous", "zesty",
)  # fmt: skip
_SURNAMES = (
    "agnesi", "allen", "babbage", "backus", "bartik", "berners", "boole", "borg", "cerf", "church",
    "codd", "conway", "corbato", "curie", "dijkstra", "engelbart", "euler", "faraday", "fermat", "floyd",
    "galois", "gauss", "hamilton", "hamming", "hoare", "hopper", "huffman", "jennings", "kahan", "kay",
    "knuth", "lamport", "liskov", "lovelace", "mccarthy", "meitner", "minsky", "moore", "naur", "neumann",
    "noether", "perlman", "pike", "postel", "ritchie", "rivest", "shannon", "shamir", "sammet", "stallman",
    "sutherland", "tarjan", "thompson", "torvalds", "turing", "wang", "wilkes", "wirth", "wozniak", "yao",
)  # fmt: skip


def random_name(taken: set[str] | None = None) -> str:
    """A fresh ``adjective_surname``; a digit is appended on a clash, as docker does."""
    taken = taken or set()
    for attempt in range(100):
        name = f"{_pick(_ADJECTIVES)}_{_pick(_SURNAMES)}"
        if attempt >= 10:
            name += str(_pick(range(10)))
        if name not in taken:
            return name
    raise UsageError("cannot find a free container name")


def _pick(choices) -> object:
    """One of ``choices`` from the OS's random source (``random`` costs 1.5 ms to import on every
    ``run``); the modulo bias of 32 random bits over a few hundred choices is immaterial here."""
    return choices[int.from_bytes(os.urandom(4), "little") % len(choices)]


def check_name(name: str) -> str:
    """The name without docker's leading ``/``; UsageError for names docker would refuse."""
    if not _VALID.match(name):
        raise UsageError(f'Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
    return name.lstrip("/")
