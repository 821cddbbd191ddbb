"""Build arguments: which ARG values each instruction sees, as docker's classic builder decides.

``--build-arg`` values override ARG defaults; ARGs before the first FROM ("meta" args) are only
visible to FROM lines unless a stage declares them again with a bare ``ARG NAME``; the proxy
variables (``HTTP_PROXY`` …) are usable without a declaration but kept out of RUN history unless
declared. ENV wins over an ARG of the same name. A ``--build-arg`` nothing declared is reported.
BuildKit's platform ARGs (``TARGETPLATFORM``, ``BUILDARCH`` …) are predefined meta args: FROM
lines may use them, a stage gets one with a bare ``ARG TARGETARCH`` (docker's classic builder
leaves them empty; lamina follows BuildKit, docker's default builder).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from lamina.oci.platform import Platform, host_platform, parse_platform

PROXY_ARGS = frozenset(
    {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
     "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}
)

# Arguments addressed to the builder itself, never "unused": BUILDKIT_INLINE_CACHE=1 asks for an
# image another machine can use as --cache-from, which every lamina image already is (its
# history and layers are the cache); the others are accepted and have no effect here.
BUILDER_ARGS = frozenset({"BUILDKIT_INLINE_CACHE", "BUILDKIT_MULTI_PLATFORM", "BUILDKIT_CONTEXT_KEEP_GIT_DIR",
                          "SOURCE_DATE_EPOCH"})


def platform_args(target: str | None = None) -> dict[str, str | None]:
    """The automatic platform ARGs for a build on this machine for ``target`` (default: this machine)."""
    values: dict[str, str | None] = {}
    build = host_platform()
    for prefix, platform in (("BUILD", build), ("TARGET", parse_platform(target) if target else build)):
        variant = "" if platform.architecture == "arm64" and platform.variant == "v8" else platform.variant
        values[f"{prefix}PLATFORM"] = str(Platform(platform.os, platform.architecture, variant))
        values[f"{prefix}OS"] = platform.os
        values[f"{prefix}ARCH"] = platform.architecture
        values[f"{prefix}VARIANT"] = variant
    return values


class BuildArgs(msgspec.Struct):
    """The ``--build-arg`` values plus what the Dockerfile declared so far.

    One instance lives for the whole build (meta args, referenced names); :meth:`for_stage`
    gives each stage its own copy with no declarations yet, as docker resets them per stage.
    """

    from_options: dict[str, str | None] = msgspec.field(default_factory=dict)
    meta: dict[str, str | None] = msgspec.field(default_factory=platform_args)
    declared: dict[str, str | None] = msgspec.field(default_factory=dict)
    referenced: set[str] = msgspec.field(default_factory=set)

    def for_stage(self) -> BuildArgs:
        return BuildArgs(self.from_options, self.meta, {}, self.referenced)

    def declare_meta(self, name: str, default: str | None) -> None:
        """A global ``ARG`` (before the first FROM)."""
        self.meta[name] = default
        self.declared[name] = default
        self.referenced.add(name)

    def declare(self, name: str, default: str | None) -> None:
        """An ``ARG`` inside a stage."""
        self.declared[name] = default
        self.referenced.add(name)

    def value(self, name: str, defaults: Mapping[str, str | None]) -> str | None:
        """A build-arg given on the command line wins; a bare ARG inherits the meta arg's value."""
        given = self.from_options.get(name)
        if given is not None:
            return given
        default = defaults.get(name)
        if default is None:
            return self.meta.get(name)
        return default

    def meta_values(self) -> dict[str, str]:
        """What FROM lines may expand: the meta args (and proxy args given on the command line)."""
        return self._values(self.meta)

    def stage_values(self) -> dict[str, str]:
        """ARG values in effect in the stage so far (set ones only)."""
        return self._values(self.declared)

    def visible(self, env: Mapping[str, str]) -> dict[str, str]:
        """ARG values not shadowed by an ENV of the same name (what RUN and expansion see)."""
        return {key: value for key, value in self.stage_values().items() if key not in env}

    def history_values(self, env: Mapping[str, str]) -> dict[str, str] | None:
        """The ARGs docker records in a RUN's history: proxy args only when declared.

        None when no ARG is in effect (docker writes no ``|N`` prefix then). A proxy arg given
        on the command line is in effect though not recorded: docker still writes the prefix,
        so an undeclared ``--build-arg HTTP_PROXY=…`` alone gives ``|0 /bin/sh -c …``."""
        visible = self.visible(env)
        if not visible:
            return None
        return {key: value for key, value in visible.items() if key not in PROXY_ARGS or key in self.declared}

    def unused(self) -> list[str]:
        """``--build-arg`` names no ARG consumed (docker's warning), sorted."""
        return sorted(name for name in self.from_options
                      if name not in self.referenced and name not in PROXY_ARGS and name not in BUILDER_ARGS)

    def _values(self, declared: Mapping[str, str | None]) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in [*declared, *sorted(PROXY_ARGS - set(declared))]:
            value = self.value(name, declared) if name in declared else self.from_options.get(name)
            if value is not None:
                values[name] = value
        return values


def environment(config_env: list[str] | None) -> dict[str, str]:
    """``KEY=value`` entries as a mapping; the first entry of a key wins, as docker's lexer reads them.

    Every step asks for its stage's environment, and a stage's configs share one Env list until
    an ENV replaces it (configs are never changed in place), so the last answer is kept for
    that list: a Dockerfile of many steps does not read a long Env once per step."""
    cached_list, cached_env = _LAST_ENVIRONMENT
    if config_env is not None and config_env is cached_list and len(config_env) == cached_env[0]:
        return dict(cached_env[1])
    env: dict[str, str] = {}
    for entry in config_env or ():
        key, _, value = entry.partition("=")
        env.setdefault(key, value)
    if config_env is not None:
        _LAST_ENVIRONMENT[:] = [config_env, (len(config_env), dict(env))]
    return env


_LAST_ENVIRONMENT: list = [None, (0, {})]
