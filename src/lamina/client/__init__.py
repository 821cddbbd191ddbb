"""The Python API: :class:`Client` and its collections and models (docker-py's shape).

``lamina.Client`` is :class:`lamina.client.client.Client`; the models (``Image``,
``Container``, ``Volume``) and collections load with the first use, so that ``import
lamina.client`` stays as cheap as the CLI's start-up needs.
"""

from __future__ import annotations

from lamina import TYPE_CHECKING

__all__ = ["Client", "Container", "ContainerCollection", "Image", "ImageCollection", "Model",
           "RegistryCollection", "SystemCollection", "Volume", "VolumeCollection"]

_LAZY = {
    "Client": "lamina.client.client",
    "Model": "lamina.client.models",
    "Image": "lamina.client.models",
    "Container": "lamina.client.models",
    "Volume": "lamina.client.models",
    "ImageCollection": "lamina.client.images",
    "ContainerCollection": "lamina.client.containers",
    "VolumeCollection": "lamina.client.volumes",
    "RegistryCollection": "lamina.client.registry",
    "SystemCollection": "lamina.client.system",
}

if TYPE_CHECKING:
    from lamina.client.client import Client
    from lamina.client.containers import ContainerCollection
    from lamina.client.images import ImageCollection
    from lamina.client.models import Container, Image, Model, Volume
    from lamina.client.registry import RegistryCollection
    from lamina.client.system import SystemCollection
    from lamina.client.volumes import VolumeCollection


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lamina.client' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
