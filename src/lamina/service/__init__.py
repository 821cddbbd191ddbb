"""The Docker Engine API over a socket (``lamina system service``): a thin shell over
:class:`lamina.api.Client`, as the CLI is. ``server`` serves HTTP and routes; one module per
area answers its endpoints; ``translate`` maps docker's create JSON onto ``RunOptions``."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os

    from lamina.service.server import Service


def make_service(uri: str, root: str | os.PathLike[str] | None = None, *, idle_seconds: float = 5.0) -> Service:
    """A :class:`~lamina.service.server.Service` with every endpoint registered."""
    from lamina.service import routes  # noqa: F401 - importing the handler modules registers them
    from lamina.service.server import Service

    return Service(uri, root, idle_seconds=idle_seconds)
