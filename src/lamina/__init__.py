"""lamina: a daemonless, docker-compatible container-image manager.

The public surface is :class:`lamina.Client` and the exceptions in :mod:`lamina.errors`.
``Client`` is imported lazily so that ``import lamina`` stays cheap for the CLI.
"""

from __future__ import annotations

from lamina.errors import LaminaError

TYPE_CHECKING = False  # typing's own constant costs an import of typing on every start

__version__ = "0.1.0"
__all__ = ["Client", "LaminaError", "__version__"]

if TYPE_CHECKING:
    from lamina.api import Client


def __getattr__(name: str):
    if name == "Client":
        from lamina.api import Client

        return Client
    raise AttributeError(name)
