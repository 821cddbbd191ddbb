"""One exception hierarchy for the whole library.

Every message is written for a person and fits on one line; the CLI prints it as
``lamina: error: <message>`` and maps the class to an exit code.
"""

from __future__ import annotations


class LaminaError(Exception):
    """Base of every error lamina raises on purpose."""

    exit_code = 1


class InvalidReferenceError(LaminaError, ValueError):
    """An image reference does not follow docker's grammar."""


class InvalidDigestError(LaminaError, ValueError):
    """A digest string is malformed or names an unsupported algorithm."""


class DigestMismatchError(LaminaError):
    """Content did not hash to the digest (or size) it was announced with."""


class ImageNotFoundError(LaminaError):
    """No image in the store answers to the given name or ID."""


class ConflictError(LaminaError):
    """The operation would break something that depends on its target (docker's 409)."""


class ManifestError(LaminaError):
    """A manifest, index or config is malformed or names content we cannot use."""


class ArchiveError(LaminaError):
    """A save/load/import archive is truncated, corrupt or not of a known layout."""


class LayerError(LaminaError):
    """A layer tar is unsafe (path escape) or cannot be applied."""


class StoreError(LaminaError):
    """The store itself is inconsistent or cannot be opened."""


class RegistryError(LaminaError):
    """A registry answered with an error or could not be reached."""


class AuthError(RegistryError):
    """A registry refused our credentials or asked for some we do not have."""


class BuildError(LaminaError):
    """A Dockerfile is malformed or one of its steps failed."""


class DockerfileError(BuildError):
    """A Dockerfile cannot be parsed; the message starts with ``Dockerfile:LINE:``."""

    def __init__(self, message: str, *, filename: str = "Dockerfile", line: int | None = None):
        self.filename = filename
        self.line = line
        prefix = f"{filename}:{line}: " if line is not None else f"{filename}: "
        super().__init__(prefix + message)


class RuntimeError_(LaminaError):
    """A container could not be created, started or stopped."""

    exit_code = 125


class ContainerError(LaminaError):
    """A container run from the Python API (``client.containers.run``) exited non-zero."""

    def __init__(self, container_id: str, exit_status: int, command: list[str], stderr: str):
        self.container_id, self.exit_status, self.command, self.stderr = container_id, exit_status, command, stderr
        last = stderr.strip().splitlines()[-1:] or [""]
        super().__init__(f"container {container_id[:12]} ({' '.join(command)}) exited with {exit_status}"
                         + (f": {last[0]}" if last[0] else ""))


class SignatureError(LaminaError):
    """A key, signature or attestation is malformed, cannot be decrypted, or does not verify."""


class PolicyError(LaminaError):
    """A policy file is malformed, or an image breaks a requirement of it (the message names which)."""


class RemoteError(LaminaError):
    """Another host could not be reached or refused us over ssh (its address, then ssh's reason)."""


class UsageError(LaminaError):
    """A command was called with flags or arguments that do not fit together."""

    exit_code = 125


class LaminaWarning(UserWarning):
    """Something a person should know that does not stop the work (TLS left unverified)."""


_warning_sink = None  # set by the CLI: a callable taking the message


def warn(message: str) -> None:
    """Tell the person at the controls; never silence, never a print from the library.

    The CLI's sink writes ``lamina: warning: <message>`` on stderr; a library caller without
    one gets a :class:`LaminaWarning` through Python's warnings machinery (its filters apply).
    """
    if _warning_sink is not None:
        _warning_sink(message)
        return
    import warnings

    warnings.warn(LaminaWarning(message), stacklevel=3)


def set_warning_sink(sink) -> None:
    """Where :func:`warn` sends messages (a callable taking one string; None: Python's warnings)."""
    global _warning_sink
    _warning_sink = sink
