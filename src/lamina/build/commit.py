"""Each build step becomes an image, written the way docker's classic builder writes it.

The classic builder commits an image per instruction (the next step's parent), so the result
has docker's shape: one history entry per instruction (``empty_layer`` when the step changed
no file), a full container ``config`` (every key docker writes, ``Image`` naming the parent),
a ``container_config`` whose ``Cmd`` is the step's ``#(nop)`` comment, keys sorted as Go's
encoder writes a map. Those intermediate images are also the build cache (see cache.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lamina.build.imageconfig import NOP, shell_of
from lamina.build.state import StageState
from lamina.errors import StoreError
from lamina.oci import mediatypes as mt
from lamina.oci.models import decode_json, encode
from lamina.oci.platform import host_platform
from lamina.oci.timefmt import format_rfc3339, parse_rfc3339
from lamina.store.store import LayerRecord, Store

# docker's container.Config, in its field order; None = always written, "omit" = only when set
_CONFIG_FIELDS: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False), ("AttachStdout", False),
    ("AttachStderr", False), ("ExposedPorts", "omit"), ("Tty", False), ("OpenStdin", False),
    ("StdinOnce", False), ("Env", None), ("Cmd", None), ("Healthcheck", "omit"), ("ArgsEscaped", "omit"),
    ("Image", ""), ("Volumes", None), ("WorkingDir", ""), ("Entrypoint", None), ("NetworkDisabled", "omit"),
    ("MacAddress", "omit"), ("OnBuild", None), ("Labels", None), ("StopSignal", "omit"),
    ("StopTimeout", "omit"), ("Shell", "omit"),
)
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def base_state(store: Store, image_id: str) -> StageState:
    """The state a stage starts from when it is ``FROM`` a stored image."""
    document = decode_json(store.config_bytes(image_id))
    return state_from_document(image_id, document)


def scratch_state() -> StageState:
    platform = host_platform()
    return StageState("", {}, platform=_platform_fields(platform.architecture, platform.os, platform.variant))


def state_from_document(image_id: str, document: Mapping[str, Any]) -> StageState:
    config = dict(document.get("config") or {})
    return StageState(
        image_id=image_id,
        config=config,
        diff_ids=tuple((document.get("rootfs") or {}).get("diff_ids") or ()),
        history=tuple(document.get("history") or ()),
        author=document.get("author") or None,
        platform=_platform_fields(document.get("architecture") or host_platform().architecture,
                                  document.get("os") or "linux", document.get("variant") or ""),
    )


def begin_stage(state: StageState) -> StageState:
    """docker adds the default PATH when the base image has none, and never keeps stdin open;
    the base's author (MAINTAINER) is not inherited."""
    config = dict(state.config)
    env = list(config.get("Env") or [])
    if not any(entry.partition("=")[0] == "PATH" for entry in env):
        config["Env"] = [*env, DEFAULT_PATH]
    config.pop("OpenStdin", None)
    config.pop("StdinOnce", None)
    return StageState(state.image_id, config, state.diff_ids, state.history, None, False, state.platform)


def commit_step(
    store: Store,
    before: StageState,
    config: Mapping[str, Any],
    created_by: str,
    command: Sequence[str],
    layer: LayerRecord | None,
    *,
    author: str | None,
    cmd_set: bool,
    history_entry: Mapping[str, Any] | None = None,
    epoch: int | None = None,
) -> StageState:
    """Store the image one step makes on top of ``before``; returns the state it starts the next step with.

    ``history_entry``: the step's entry taken whole from a ``--cache-from`` image (its time
    included), so that the next step still finds that image's history as its prefix.
    ``epoch`` (SOURCE_DATE_EPOCH): the image's and the step's ``created`` (a ``--cache-from``
    entry only when it is later), as BuildKit does with it; the base image's entries stay.
    """
    diff_ids = before.diff_ids + ((layer.diff_id,) if layer is not None else ())
    if history_entry is not None:
        entry = dict(history_entry)
        created = str(entry.get("created") or format_rfc3339())
    else:
        created = format_rfc3339() if epoch is None else epoch_rfc3339(epoch)
        entry = {"created": created}
        if author:
            entry["author"] = author
        entry["created_by"] = created_by
        if layer is None:
            entry["empty_layer"] = True
    if epoch is not None:  # the base image's entries keep their times (BuildKit, moby/buildkit#4614)
        created = epoch_rfc3339(epoch)
        entry = dict(_clamp_created(entry, epoch))
    history = (*before.history, entry)
    full_config = docker_config(config, before.image_id)
    document: dict[str, Any] = {"architecture": before.platform.get("architecture", "")}
    if author:
        document["author"] = author
    document["config"] = full_config
    document["container_config"] = {**full_config, "Cmd": list(command)}
    document["created"] = created
    document["history"] = list(history)
    document["os"] = before.platform.get("os", "linux")
    document["rootfs"] = {"type": "layers", "diff_ids": list(diff_ids)}
    if before.platform.get("variant"):
        document["variant"] = before.platform["variant"]
    layers = [_layer(store, diff_id) for diff_id in before.diff_ids]
    if layer is not None:
        layers.append(layer)
    image_id = store.add_image(encode(document), mt.DOCKER_CONFIG, layers, parent=before.image_id)
    return StageState(image_id, dict(config), diff_ids, history, author, cmd_set, before.platform)


def commit_stage_config(store: Store, state: StageState) -> StageState:
    """BuildKit exports a stage's config even when no instruction ran (``FROM base`` alone): a
    base without PATH comes out with the default PATH (see :func:`begin_stage`), as a new image
    with the base's layers and history. The classic builder answers with the base image itself."""
    document = decode_json(store.config_bytes(state.image_id))
    stored = dict(document.get("config") or {})
    config = {**stored, "Env": state.config.get("Env")}
    config.pop("OpenStdin", None)
    config.pop("StdinOnce", None)
    if config == stored:
        return state
    document["config"] = config
    layers = [_layer(store, diff_id) for diff_id in state.diff_ids]
    image_id = store.add_image(encode(document), mt.DOCKER_CONFIG, layers, parent=state.image_id)
    return StageState(image_id, dict(state.config), state.diff_ids, state.history, state.author, state.cmd_set,
                      state.platform)


def epoch_rfc3339(epoch: int) -> str:
    """SOURCE_DATE_EPOCH as Go's encoder writes a whole-second UTC time (what BuildKit stores)."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clamp_created(entry: Mapping[str, Any], epoch: int) -> Mapping[str, Any]:
    """A history entry whose ``created`` is after ``epoch`` gets ``epoch`` (older ones are kept)."""
    created = entry.get("created")
    if not created or parse_rfc3339(str(created)) <= epoch:
        return entry
    return {**entry, "created": epoch_rfc3339(epoch)}


def comment_command(config: Mapping[str, Any], created_by: str) -> list[str]:
    """The ``#(nop)`` Cmd docker stores in ``container_config`` for a step that ran nothing."""
    shell = shell_of(config)
    rest = created_by[len(" ".join(shell)) + 1:]
    if rest.startswith(NOP + " "):
        return [*shell, NOP, rest[len(NOP) + 1:]]
    return [*shell, rest]


def docker_config(config: Mapping[str, Any], parent_image: str) -> dict[str, Any]:
    """``config`` with every key docker's classic builder writes, in docker's order."""
    result: dict[str, Any] = {}
    for key, default in _CONFIG_FIELDS:
        value = parent_image if key == "Image" else config.get(key, None if default == "omit" else default)
        if default == "omit" and not value:
            continue
        result[key] = value
    for key, value in config.items():
        if key not in result and not any(key == known for known, _ in _CONFIG_FIELDS):
            result[key] = value
    return result


def _layer(store: Store, diff_id: str) -> LayerRecord:
    layer = store.layer_for(diff_id)
    if layer is None:
        raise StoreError(f"layer {diff_id} is not in the store")
    return layer


def _platform_fields(architecture: str, os_name: str, variant: str) -> dict[str, str]:
    fields = {"architecture": architecture, "os": os_name}
    if variant:
        fields["variant"] = variant
    return fields
