"""The dispatcher picks each OSV ecosystem's order; PEP 440 is pip's own ``packaging``."""

from __future__ import annotations

import pytest

from lamina.security import versions


def test_each_ecosystem_gets_its_own_order():
    # the same two strings order differently in different ecosystems
    assert versions.compare("Debian:12", "1.0~rc1", "1.0") == -1
    assert versions.compare("npm", "1.0.0-rc.1", "1.0.0") == -1
    assert versions.compare("PyPI", "1.0rc1", "1.0") == -1
    assert versions.compare("PyPI", "1.0.post1", "1.0") == 1
    assert versions.compare("Maven", "1.0-SNAPSHOT", "1.0") == -1
    assert versions.compare("RubyGems", "1.0.a", "1.0") == -1
    assert versions.compare("Alpine:v3.19", "1.1_rc1", "1.1") == -1
    assert versions.compare("Red Hat", "1.0^git1", "1.0") == 1
    assert versions.compare("Go", "v0.0.0-20191109021931-daa7c04131f5", "v0.0.1") == -1


def test_pep440_normalises_spellings():
    assert versions.compare("PyPI", "1.0.0", "1") == 0
    assert versions.compare("PyPI", "1.0-alpha1", "1.0a1") == 0
    assert versions.compare("PyPI", "1!0.1", "2.0") == 1


def test_a_string_that_is_no_version_of_its_ecosystem_is_a_version_format_error():
    with pytest.raises(versions.VersionFormatError, match="PEP 440"):
        versions.compare("PyPI", "not a version", "1.0")
    with pytest.raises(versions.VersionFormatError, match="semantic version"):
        versions.compare("npm", "1.x", "1.0.0")


def test_an_unknown_ecosystem_is_an_error_naming_it():
    assert not versions.known_ecosystem("Plan9")
    with pytest.raises(versions.VersionFormatError, match="Plan9"):
        versions.compare("Plan9", "1", "2")
