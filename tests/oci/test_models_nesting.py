"""Documents from a registry or an archive nested deeper than the decoder's stack are refused
with a ManifestError (one line for the CLI), not a RecursionError traceback."""

from __future__ import annotations

import pytest

from lamina.errors import ManifestError
from lamina.oci.models import parse_config, parse_index, parse_manifest, sniff_media_type

DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize("parse", [parse_manifest, parse_index, parse_config, sniff_media_type])
def test_deep_nesting_is_a_manifest_error(parse):
    with pytest.raises(ManifestError):
        parse(b'{"schemaVersion": 2, "annotations": {"x": ' + DEEP + b"}}")
