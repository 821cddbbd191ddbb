"""The registry's transport: HTTP connections, TLS trust, retries, auth challenges, error answers.

Below the distribution client (:mod:`lamina.registry.distribution`), which says *what* to ask
(manifests, blobs, uploads, listings); this package says *how*: one keep-alive connection per
host (:mod:`.connections`), the probe of ``/v2/`` and mirrors before the registry, answers to
``WWW-Authenticate`` (:mod:`.session`), back-off and the fast-failure rules
(:mod:`.retry`, :mod:`.failures`), and a registry's ``{"errors": […]}`` as LaminaErrors
(:mod:`.errors`).
"""

import sys

# httpx's own command line (httpx._main) imports rich and pygments at `import httpx` (~150 ms);
# lamina never uses it, and httpx falls back cleanly when that import fails. Done here, before
# any module of this package imports httpx.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]

from lamina.registry.transport.errors import RegistryAuthResponseError, RegistryResponseError
from lamina.registry.transport.session import CredentialSource, EndpointState, RegistryTransport

__all__ = [
    "CredentialSource",
    "EndpointState",
    "RegistryAuthResponseError",
    "RegistryResponseError",
    "RegistryTransport",
]
