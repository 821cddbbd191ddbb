"""``login`` and ``logout``: check a credential against a registry the way ``docker login``
does, then keep it in docker's config.json (or its credential helper).

Above the transport (it opens a RegistryClient) and the credential store (it writes there), so
that neither of those needs the other's upward half: ``credentials`` stays a leaf.
"""

from __future__ import annotations

from typing import Any

from lamina.errors import AuthError
from lamina.registry.client import RegistryClient
from lamina.registry.config import RegistryConfig
from lamina.registry.credentials import Credential, CredentialStore, server_key

__all__ = ["login", "logout", "verify_login"]


def login(
    server: str,
    username: str,
    password: str,
    *,
    credentials: CredentialStore | None = None,
    config: Any = None,
) -> str:
    """Check ``username``/``password`` against the registry, then save them; returns docker's message.

    Nothing is saved when the registry refuses them. When a Bearer token server hands back a
    refresh token, that identity token is saved instead of the password, as docker does.
    """
    store = credentials if credentials is not None else CredentialStore()
    registry_config = config if config is not None else RegistryConfig.load()
    if not username or not password:
        raise AuthError("login needs a username and a password")
    identity_token = verify_login(server, Credential(username, password), config=registry_config)
    if identity_token:
        store.store(server, Credential(username, "", identity_token))
    else:
        store.store(server, Credential(username, password))
    return "Login Succeeded"


def logout(server: str, *, credentials: CredentialStore | None = None) -> str:
    """Forget the credentials for ``server``; returns docker's message."""
    store = credentials if credentials is not None else CredentialStore()
    key = server_key(server)
    if not store.erase(server):
        return f"Not logged in to {key}"
    return f"Removing login credentials for {key}"


def verify_login(server: str, credential: Credential, *, config: RegistryConfig) -> str | None:
    """Check ``credential`` against ``server`` the way ``docker login`` does.

    Returns an identity (refresh) token when the token server offers one, else None. Raises
    AuthError when the registry refuses the credential.
    """
    class _Given:
        def get(self, _server: str) -> Credential | None:
            return credential

    with RegistryClient(server, config=config, credentials=_Given()) as client:
        return client.check_login()
