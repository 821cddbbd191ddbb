"""What a build reports while it runs; the CLI renders these as docker's classic builder output."""

from __future__ import annotations

import msgspec


class BuildEvent(msgspec.Struct, frozen=True):
    """Base of every build event."""


class ContextSent(BuildEvent, frozen=True):
    """The build context was read: ``size`` is about its size as a tar."""

    size: int


class StepStarted(BuildEvent, frozen=True):
    number: int
    total: int
    text: str  # the instruction as written, e.g. "COPY . /app"


class StepFinished(BuildEvent, frozen=True):
    """A step made (or, with ``cached``, found) ``image_id``; ``image_id`` is "" for FROM scratch."""

    image_id: str
    cached: bool = False


class TriggersRunning(BuildEvent, frozen=True):
    """The base image's ONBUILD triggers run now."""

    count: int


class RunStarted(BuildEvent, frozen=True):
    """A RUN step started a container."""

    container_id: str


class StepOutput(BuildEvent, frozen=True):
    """Bytes a RUN step's command wrote."""

    data: bytes


class BuildWarning(BuildEvent, frozen=True):
    text: str


class Built(BuildEvent, frozen=True):
    image_id: str


class Tagged(BuildEvent, frozen=True):
    reference: str  # familiar form, e.g. "app:latest"
