"""lamina: a daemonless, docker-compatible container-image manager.

The public surface is :class:`lamina.Client` and the exceptions in :mod:`lamina.errors`.
``Client`` is imported lazily so that ``import lamina`` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.errors import LaminaError

__version__ = "0.1.0"
__all__ = ["Client", "LaminaError", "__version__"]

if TYPE_CHECKING:
    from lamina.api import Client


def __getattr__(name: str):
    if name == "Client":
        from lamina.api import Client

        return Client
    raise AttributeError(name)
