"""The distribution client: auth challenges, docker-compatible credentials, verified transfers.

Names are imported lazily: ``httpx`` is only loaded by commands that talk to a registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "ALL_MANIFEST_TYPES",
    "BlobPushOutcome",
    "Credential",
    "CredentialStore",
    "Manifest",
    "ManifestInfo",
    "RegistryClient",
    "RegistryConfig",
    "RegistryResponseError",
    "login",
    "logout",
]

if TYPE_CHECKING:
    from lamina.registry.client import (
        ALL_MANIFEST_TYPES,
        BlobPushOutcome,
        Manifest,
        ManifestInfo,
        RegistryClient,
        RegistryResponseError,
    )
    from lamina.registry.config import RegistryConfig
    from lamina.registry.credentials import Credential, CredentialStore
    from lamina.registry.login import login, logout

_HOMES = {
    "ALL_MANIFEST_TYPES": "client",
    "BlobPushOutcome": "client",
    "Manifest": "client",
    "ManifestInfo": "client",
    "RegistryClient": "client",
    "RegistryResponseError": "client",
    "RegistryConfig": "config",
    "Credential": "credentials",
    "CredentialStore": "credentials",
    "login": "login",
    "logout": "login",
}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(name)
    from importlib import import_module

    return getattr(import_module(f"lamina.registry.{module}"), name)
