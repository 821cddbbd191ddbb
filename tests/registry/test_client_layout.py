"""The registry client's split: transport below the distribution client, rules from lamina.oci.

These guard what the split must not lose: importing the client stays free of httpx's command
line (rich, pygments) and of the layers above it, and media types and digest rules are
lamina.oci's, checked before anything is sent.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from lamina.errors import InvalidDigestError
from lamina.oci import mediatypes
from lamina.registry.client import ALL_MANIFEST_TYPES, RegistryClient
from lamina.registry.config import RegistryConfig


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(result.stdout.split())


def test_importing_the_client_loads_neither_httpx_cli_nor_upper_layers():
    loaded = _modules_after("import lamina.registry.client")
    assert "httpx" in loaded and "lamina.registry.transport.session" in loaded
    assert not {name for name in loaded if name.split(".")[0] in ("rich", "pygments")}
    upper = ("lamina.image", "lamina.store", "lamina.client", "lamina.cli", "lamina.registry.pull",
             "lamina.registry.push")
    assert not {name for name in loaded if name.startswith(upper)}


def test_manifest_media_types_are_lamina_ocis():
    assert set(ALL_MANIFEST_TYPES) == mediatypes.ALL_MANIFESTS
    assert ALL_MANIFEST_TYPES[0] == mediatypes.OCI_INDEX  # an index first: the registry picks the stored form


@pytest.mark.parametrize("call", [
    lambda c: c.get_manifest("app", "sha384:" + "a" * 96),
    lambda c: c.delete_manifest("app", "sha256:" + "A" * 64),
    lambda c: c.blob_exists("app", "sha256:abc"),
    lambda c: c.fetch_blob("app", "md5:" + "0" * 32, None),
    lambda c: c.upload_blob("app", "sha256", 0, None),
])
def test_a_digest_oci_does_not_accept_is_refused_before_any_request(call):
    # port 9 (discard) on loopback: a request would fail with "cannot reach", not InvalidDigestError
    with RegistryClient("127.0.0.1:9", config=RegistryConfig()) as client, pytest.raises(InvalidDigestError):
        call(client)
