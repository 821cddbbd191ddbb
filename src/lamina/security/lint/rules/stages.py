"""Rules about FROM lines and build stages: tags, registries, platforms, stage names, order."""

from __future__ import annotations

from collections.abc import Iterator

from lamina.security.lint.model import Step, split_image
from lamina.security.lint.registry import LintSettings, rule, simple_rule


def _froms(steps: list[Step]) -> Iterator[Step]:
    return (step for step in steps if step.keyword == "from")


@rule("DL3006", "warning", "Always tag the version of an image explicitly")
def untagged_image(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    aliases: set[str] = set()  # earlier stages' names: ``FROM s0 AS s0`` is untagged
    for step in _froms(steps):
        image = step.base_image
        pinned = image.name == "scratch" or image.digest or image.tag is not None
        if not pinned and not image.name.startswith("$") and image.name not in aliases:
            yield step.line
        if image.alias:
            aliases.add(image.alias)


@simple_rule(
    "DL3007",
    "warning",
    "Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag",
)
def latest_tag(step: Step) -> bool:
    if step.keyword != "from":
        return True
    image = step.base_image
    return bool(image.digest) or image.tag != "latest"


@rule("DL3024", "error", "FROM aliases (stage names) must be unique")
def duplicate_stage_name(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    seen: set[str] = set()
    for step in _froms(steps):
        alias = step.base_image.alias
        if alias is None:
            continue
        if alias in seen:
            yield step.line
        seen.add(alias)


@rule("DL3026", "error", "Use only an allowed registry in the FROM image")
def untrusted_registry(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    trusted = settings.trusted_registries
    aliases: set[str | None] = set()

    def allowed(reference: str) -> bool:
        image = split_image(reference, None, None)
        if image.name in aliases or not trusted:
            return True
        if image.registry is not None:
            return _registry_trusted(image.registry, trusted)
        return (
            image.name == "scratch"
            or _registry_trusted("docker.io", trusted)
            or _registry_trusted("hub.docker.com", trusted)
        )

    for step in steps:
        if step.keyword == "from":
            fine = allowed(step.node.args[0]) if step.node else True
            aliases.add(step.base_image.alias)
            if not fine:
                yield step.line
        elif step.keyword == "copy" and step.copy_from is not None:
            if not allowed(step.copy_from):
                yield step.line
        elif step.keyword == "run":
            sources = [m.from_ or "scratch" for m in step.mounts if m.type in ("cache", "bind")]
            if not all(allowed(source) for source in sources):
                yield step.line


def _registry_trusted(registry: str, trusted: tuple[str, ...]) -> bool:
    for pattern in trusted:
        if pattern == "*":
            return True
        if pattern.startswith("*") and registry.endswith(pattern[1:]):
            return True
        if pattern.endswith("*") and registry.startswith(pattern[:-1]):
            return True
        if registry == pattern:
            return True
    return False


@simple_rule("DL3029", "warning", "Do not use --platform flag with FROM")
def platform_flag(step: Step) -> bool:
    if step.keyword != "from" or step.base_image.platform is None:
        return True
    platform = step.base_image.platform
    return "BUILDPLATFORM" in platform or "TARGETPLATFORM" in platform


@simple_rule(
    "DL3065",
    "warning",
    "Setting `FROM --platform` to predefined `$TARGETPLATFORM` in is redundant as this is the default behavior",
)
def redundant_target_platform(step: Step) -> bool:
    if step.keyword != "from":
        return True
    return step.base_image.platform not in ("$TARGETPLATFORM", "${TARGETPLATFORM}")


@simple_rule("DL3063", "warning", "stage name should not be a reserved word")
def reserved_stage_name(step: Step) -> bool:
    return step.keyword != "from" or step.base_image.alias not in ("scratch", "context")


@rule("DL3061", "error", "Invalid instruction order. Dockerfile must begin with `FROM`, `ARG` or comment.")
def instruction_before_from(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    for step in steps:
        if step.keyword == "from":
            return
        if step.keyword not in ("comment", "arg"):
            yield step.line


@simple_rule("DL4000", "error", "MAINTAINER is deprecated")
def maintainer(step: Step) -> bool:
    return step.keyword != "maintainer"
