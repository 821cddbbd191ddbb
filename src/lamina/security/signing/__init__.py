"""Integrity and compliance: cosign-format signatures and attestations, containers-policy.json,
and organizational policy checks.

The public functions live in their modules and are re-exported here on first use, so importing
``lamina.security.signing`` stays cheap (cryptography and PyNaCl load only when a key is used).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "generate_key_pair": "keys", "load_private_key": "keys", "load_public_key": "keys", "KeyPair": "keys",
    "encrypt_private_key": "keys", "read_key_file": "keys",
    "sign": "cosign", "verify": "cosign", "verify_signature": "cosign", "VerifiedSignature": "cosign",
    "SignResult": "cosign", "FulcioTrust": "keyless",
    "attest": "attest", "verify_attestation": "attest", "VerifiedAttestation": "attest",
    "load_policy": "policy", "default_policy_path": "policy", "check_image": "policy", "pull_gate": "policy",
    "Policy": "policy",
    "check_policy": "orgpolicy", "load_org_policy": "orgpolicy", "PolicyReport": "orgpolicy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
