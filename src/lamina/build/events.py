"""What a build reports while it runs; the CLI renders these as docker's classic builder output."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BuildEvent:
    """Base of every build event."""


@dataclass(frozen=True, slots=True)
class ContextSent(BuildEvent):
    """The build context was read: ``size`` is about its size as a tar."""

    size: int


@dataclass(frozen=True, slots=True)
class StepStarted(BuildEvent):
    number: int
    total: int
    text: str  # the instruction as written, e.g. "COPY . /app"


@dataclass(frozen=True, slots=True)
class StepFinished(BuildEvent):
    """A step made (or, with ``cached``, found) ``image_id``; ``image_id`` is "" for FROM scratch."""

    image_id: str
    cached: bool = False


@dataclass(frozen=True, slots=True)
class TriggersRunning(BuildEvent):
    """The base image's ONBUILD triggers run now."""

    count: int


@dataclass(frozen=True, slots=True)
class RunStarted(BuildEvent):
    """A RUN step started a container."""

    container_id: str


@dataclass(frozen=True, slots=True)
class StepOutput(BuildEvent):
    """Bytes a RUN step's command wrote."""

    data: bytes


@dataclass(frozen=True, slots=True)
class BuildWarning(BuildEvent):
    text: str


@dataclass(frozen=True, slots=True)
class Built(BuildEvent):
    image_id: str


@dataclass(frozen=True, slots=True)
class Tagged(BuildEvent):
    reference: str  # familiar form, e.g. "app:latest"
