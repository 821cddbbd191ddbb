"""lamina: a daemonless, docker-compatible container-image manager.

The public surface is :class:`lamina.Client` (with docker-py's collections ``images``,
``containers``, ``volumes``, ``registry``, ``system`` and their models ``Image``, ``Container``,
``Volume``), the exceptions in :mod:`lamina.errors` and every type a caller of ``Client`` meets
(its results, ``RunOptions``, ``Attach``, the progress events), all
importable from ``lamina`` itself. They load lazily so that ``import lamina`` stays cheap for
the CLI: only the errors come with the package.
"""

from __future__ import annotations

from lamina.errors import (
    ArchiveError,
    AuthError,
    BuildError,
    ConflictError,
    ContainerError,
    DigestMismatchError,
    DockerfileError,
    ImageNotFoundError,
    InvalidDigestError,
    InvalidReferenceError,
    LaminaError,
    LayerError,
    ManifestError,
    RegistryError,
    StoreError,
    UsageError,
)

TYPE_CHECKING = False  # typing's own constant costs an import of typing on every start

__version__ = "0.1.0"

# public name → the module that defines it ("module:name" when the name there differs),
# imported on first use
_LAZY = {
    "Client": "lamina.client.client",
    # models and collections of the client (docker-py's shape)
    "Image": "lamina.client.models",
    "Container": "lamina.client.models",
    "Volume": "lamina.client.models",
    "ImageCollection": "lamina.client.images",
    "ContainerCollection": "lamina.client.containers",
    "VolumeCollection": "lamina.client.volumes",
    "RegistryCollection": "lamina.client.registry",
    "SystemCollection": "lamina.client.system",
    # results
    "ImageSummary": "lamina.client.records",
    "HistoryEntry": "lamina.client.records",
    "PruneReport": "lamina.client.records",
    "FsckReport": "lamina.store.fsck",
    "FsckProblem": "lamina.store.fsck",
    "RemovalReport": "lamina.store.store",
    "LoadedImage": "lamina.archive.load",
    "BuildResult": "lamina.build.executor",
    "PullResult": "lamina.registry.pull",
    "PushResult": "lamina.registry.push",
    "SearchResult": "lamina.registry.search",
    "Manifest": "lamina.registry.client",
    "DiskUsage": "lamina.diskusage",
    "VolumeRecord": "lamina.runtime.volumestore:Volume",
    "Attach": "lamina.runtime.monitor",
    # errors that live beside the code raising them
    "ContainerNotFoundError": "lamina.runtime.containers",
    "FlagError": "lamina.runtime.flagerror",
    "LogEntry": "lamina.runtime.logs",
    "ResourceUsage": "lamina.runtime.processes",
    # inputs
    "RunOptions": "lamina.runtime.runconfig",
    # progress events: pull/push/copy/run get TransferEvent, build gets the BuildEvent kinds
    "TransferEvent": "lamina.registry.transfer_events",
    "BuildEvent": "lamina.build.events",
    "ContextSent": "lamina.build.events",
    "StepStarted": "lamina.build.events",
    "StepFinished": "lamina.build.events",
    "TriggersRunning": "lamina.build.events",
    "RunStarted": "lamina.build.events",
    "StepOutput": "lamina.build.events",
    "BuildWarning": "lamina.build.events",
    "Built": "lamina.build.events",
    "Tagged": "lamina.build.events",
}

# spelled out (not built from _LAZY) so that linters and IDEs see every public name
__all__ = [
    "ArchiveError", "AuthError", "BuildError", "ConflictError", "DigestMismatchError", "DockerfileError",
    "ImageNotFoundError", "InvalidDigestError", "InvalidReferenceError", "LaminaError", "LayerError",
    "ManifestError", "RegistryError", "StoreError", "UsageError", "ContainerError", "__version__", "Client",
    "Image", "Container", "Volume", "ImageCollection", "ContainerCollection", "VolumeCollection",
    "RegistryCollection", "SystemCollection", "ImageSummary",
    "HistoryEntry", "PruneReport", "FsckReport", "FsckProblem", "RemovalReport", "LoadedImage",
    "BuildResult", "PullResult", "PushResult", "SearchResult", "Manifest", "DiskUsage", "VolumeRecord",
    "Attach", "ContainerNotFoundError", "FlagError", "LogEntry",
    "ResourceUsage", "RunOptions", "TransferEvent", "BuildEvent", "ContextSent", "StepStarted",
    "StepFinished", "TriggersRunning", "RunStarted", "StepOutput", "BuildWarning", "Built", "Tagged",
]

if TYPE_CHECKING:
    from lamina.archive.load import LoadedImage
    from lamina.build.events import (
        BuildEvent,
        BuildWarning,
        Built,
        ContextSent,
        RunStarted,
        StepFinished,
        StepOutput,
        StepStarted,
        Tagged,
        TriggersRunning,
    )
    from lamina.build.executor import BuildResult
    from lamina.client.client import Client
    from lamina.client.containers import ContainerCollection
    from lamina.client.images import ImageCollection
    from lamina.client.models import Container, Image, Volume
    from lamina.client.records import HistoryEntry, ImageSummary, PruneReport
    from lamina.client.registry import RegistryCollection
    from lamina.client.system import SystemCollection
    from lamina.client.volumes import VolumeCollection
    from lamina.diskusage import DiskUsage
    from lamina.registry.client import Manifest
    from lamina.registry.pull import PullResult
    from lamina.registry.push import PushResult
    from lamina.registry.search import SearchResult
    from lamina.registry.transfer_events import TransferEvent
    from lamina.runtime.containers import ContainerNotFoundError
    from lamina.runtime.flagerror import FlagError
    from lamina.runtime.logs import LogEntry
    from lamina.runtime.monitor import Attach
    from lamina.runtime.processes import ResourceUsage
    from lamina.runtime.runconfig import RunOptions
    from lamina.runtime.volumestore import Volume as VolumeRecord
    from lamina.store.fsck import FsckProblem, FsckReport
    from lamina.store.store import RemovalReport


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lamina' has no attribute {name!r}")
    import importlib

    module, _, attribute = module.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
