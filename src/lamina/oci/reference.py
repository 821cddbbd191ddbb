"""Image references with docker's grammar and normalisation.

``debian`` → ``docker.io/library/debian:latest``; ``localhost:5000/a/b:t``;
``name@sha256:…``; ``name:tag@digest``. Upper case in a repository, bad characters, and
bare 64-hex strings (which docker reserves for image IDs) are rejected with a clear message.
"""

from __future__ import annotations

import re
from collections import namedtuple

from lamina.errors import InvalidReferenceError
from lamina.oci.digest import validate_digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_PATTERN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_ANCHORED_ID = re.compile(r"[a-f0-9]{64}")


class Reference(namedtuple("Reference", "domain path tag digest", defaults=(None, None))):
    """A normalised reference: ``domain/path`` plus an optional tag and digest."""

    # domain: str; path: str; tag: str | None; digest: str | None
    __slots__ = ()

    @property
    def repository(self) -> str:
        """Full repository name, e.g. ``docker.io/library/debian``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The short name docker shows: ``debian``, ``user/app``, ``localhost:5000/app``."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path.removeprefix(OFFICIAL_REPO_PREFIX)
        return self.repository

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, None, digest)

    def tagged_or_latest(self) -> Reference:
        """Docker's TagNameOnly: a reference without tag or digest gets ``:latest``."""
        if self.tag is None and self.digest is None:
            return self.with_tag(DEFAULT_TAG)
        return self

    def __str__(self) -> str:
        return self._render(self.repository)

    @property
    def familiar(self) -> str:
        return self._render(self.familiar_repository)

    def _render(self, name: str) -> str:
        if self.tag is not None:
            name += ":" + self.tag
        if self.digest is not None:
            name += "@" + self.digest
        return name


def parse_reference(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise like docker's ParseNormalizedNamed (+ TagNameOnly when default_tag)."""
    if not text:
        raise InvalidReferenceError("invalid reference format: empty reference")
    if _ANCHORED_ID.fullmatch(text):
        raise InvalidReferenceError(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    name, digest = text, None
    if "@" in name:
        name, _, digest = name.partition("@")
        try:
            validate_digest(digest)
        except Exception as exc:
            raise InvalidReferenceError(f"invalid reference format: {text!r}: {exc}") from None
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidReferenceError(f"invalid reference format: bad tag {tag!r} in {text!r}")
    domain, path = _split_domain(name, text)
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            if component.lower() != component and _PATH_COMPONENT.fullmatch(component.lower()):
                raise InvalidReferenceError(
                    f"invalid reference format: repository name ({path}) must be lowercase"
                )
            raise InvalidReferenceError(f"invalid reference format: {text!r}")
    if len(domain) + 1 + len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(
            f"invalid reference format: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    ref = Reference(domain, path, tag, digest)
    return ref.tagged_or_latest() if default_tag else ref


def _split_domain(name: str, text: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
        if not re.fullmatch(_DOMAIN_PATTERN, domain):
            raise InvalidReferenceError(f"invalid reference format: bad registry host {domain!r} in {text!r}")
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    if not path:
        raise InvalidReferenceError(f"invalid reference format: {text!r}")
    return domain, path
