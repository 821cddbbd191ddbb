"""Loads every area's handlers (each registers its routes with ``lamina.service.server.route``)."""

from lamina.service import build, containers, exec, images, networks, system, volumes  # noqa: F401
