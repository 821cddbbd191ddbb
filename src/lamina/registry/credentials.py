"""Registry credentials, kept exactly where and how docker keeps them.

``$DOCKER_CONFIG/config.json`` (else ``~/.docker/config.json``): ``auths.<server>.auth`` is
base64 of ``user:password``, ``identitytoken`` an OAuth2 refresh token; ``credsStore`` names a
``docker-credential-<name>`` helper for every server and ``credHelpers`` one per server. Sharing
the file means ``docker login`` works for lamina and ``lamina login`` for docker.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

from lamina.errors import RegistryError

#: The key docker files Docker Hub credentials under (a historical URL, kept for compatibility).
DOCKER_HUB_SERVER_KEY = "https://index.docker.io/v1/"
_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

#: A helper's username that means "the secret is an identity token, not a password".
_TOKEN_USERNAME = "<token>"


@dataclass(frozen=True)
class Credential:
    """A username with either a password or an identity (refresh) token; never printed."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.identity_token)


def server_key(server: str) -> str:
    """The config.json key for a registry, normalised the way docker's CLI does it.

    Docker Hub in any spelling is ``https://index.docker.io/v1/``; every other registry is its bare
    ``host[:port]`` (a scheme or path the user typed is dropped).
    """
    host = hostname_of(server)
    return DOCKER_HUB_SERVER_KEY if host in _HUB_NAMES else host


def hostname_of(server: str) -> str:
    """``https://host:5000/v1/`` → ``host:5000`` (docker's ConvertToHostname), lowercased."""
    stripped = server.strip()
    if "://" in stripped:
        stripped = stripped.split("://", 1)[1]
    return stripped.split("/", 1)[0].lower()


class CredentialStore:
    """Reads and writes docker's config.json and its credential helpers.

    Every call re-reads the file, so a ``docker login`` run meanwhile is seen; writes replace the
    file atomically with mode 0600 and keep every key lamina does not know about.
    """

    def __init__(self, config_path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(config_path) if config_path is not None else default_docker_config_path()
        self._lock = threading.Lock()

    # -- reading -------------------------------------------------------------------------

    def get(self, server: str) -> Credential | None:
        """The credential docker would use for ``server``, or None for anonymous access."""
        key = server_key(server)
        document = self._read()
        helper = self._helper_for(document, key)
        if helper:
            return _helper_get(helper, key)
        auths = document.get("auths") or {}
        entry = auths.get(key)
        if entry is None:
            # Older files (and some tools) key entries with a scheme or a path; docker matches
            # those by hostname.
            wanted = hostname_of(key)
            for stored_key, stored_entry in auths.items():
                if server_key(stored_key) == key or hostname_of(stored_key) == wanted:
                    entry = stored_entry
                    break
        if not isinstance(entry, dict):
            return None
        credential = _decode_entry(entry, key, self.path)
        return credential or None

    def list(self) -> dict[str, str]:
        """Every server with stored credentials, mapped to its username (docker's ``list``)."""
        document = self._read()
        result: dict[str, str] = {}
        for key, entry in (document.get("auths") or {}).items():
            if isinstance(entry, dict):
                credential = _decode_entry(entry, key, self.path)
                result[key] = credential.username
        store = document.get("credsStore")
        if store:
            result.update(_helper_list(store))
        for key, helper in (document.get("credHelpers") or {}).items():
            credential = _helper_get(helper, key)
            if credential:
                result[key] = credential.username
        return result

    # -- writing -------------------------------------------------------------------------

    def store(self, server: str, credential: Credential) -> None:
        """Save ``credential`` for ``server`` in the helper docker would use, else the file."""
        key = server_key(server)
        with self._lock:
            document = self._read()
            helper = self._helper_for(document, key)
            auths = document.setdefault("auths", {})
            if helper:
                _helper_store(helper, key, credential)
                # docker keeps an empty entry so `auths` still lists the server.
                auths[key] = {}
            else:
                entry = dict(auths.get(key) or {})
                for stale in ("username", "password", "identitytoken", "registrytoken"):
                    entry.pop(stale, None)
                pair = f"{credential.username}:{credential.password}".encode()
                entry["auth"] = base64.b64encode(pair).decode("ascii")
                if credential.identity_token:
                    entry["identitytoken"] = credential.identity_token
                auths[key] = entry
            self._write(document)

    def erase(self, server: str) -> bool:
        """Forget ``server``; True when something was stored for it."""
        key = server_key(server)
        with self._lock:
            document = self._read()
            helper = self._helper_for(document, key)
            erased = False
            if helper:
                erased = _helper_erase(helper, key)
            auths = document.get("auths") or {}
            for stored_key in [k for k in auths if server_key(k) == key]:
                del auths[stored_key]
                erased = True
            if erased:
                self._write(document)
            return erased

    # -- the file ------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise RegistryError(f"cannot read {self.path}: {exc.strerror}") from None
        if not text.strip():
            return {}
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{self.path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
        if not isinstance(document, dict):
            raise RegistryError(f"{self.path} must hold a JSON object")
        return document

    def _write(self, document: dict[str, Any]) -> None:
        # Follow a symlinked config.json (a common dotfiles set-up) instead of replacing the link.
        target = Path(os.path.realpath(self.path))
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp_name = tempfile.mkstemp(prefix=".config.json.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)
                json.dump(document, handle, indent="\t")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, target)
        except BaseException:
            try:
                os.unlink(temp_name)
            except FileNotFoundError:
                pass
            raise

    @staticmethod
    def _helper_for(document: dict[str, Any], key: str) -> str | None:
        helpers = document.get("credHelpers") or {}
        for stored_key, helper in helpers.items():
            if server_key(stored_key) == key and helper:
                return str(helper)
        store = document.get("credsStore")
        return str(store) if store else None


def default_docker_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` (docker's own rule)."""
    directory = os.environ.get("DOCKER_CONFIG")
    base = Path(directory) if directory else Path.home() / ".docker"
    return base / "config.json"


# -- config.json entries ----------------------------------------------------------------------


def _decode_entry(entry: dict[str, Any], key: str, path: Path) -> Credential:
    username = str(entry.get("username") or "")
    password = str(entry.get("password") or "")
    encoded = entry.get("auth")
    if encoded:
        try:
            pair = base64.b64decode(str(encoded), validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise RegistryError(f"the stored auth for {key} in {path} is not valid base64") from None
        if ":" not in pair:
            raise RegistryError(f"the stored auth for {key} in {path} is not 'user:password'")
        username, password = pair.split(":", 1)
    token = str(entry.get("identitytoken") or "")
    return Credential(username, password, token)


# -- docker-credential-<name> helpers ---------------------------------------------------------


def _run_helper(helper: str, action: str, stdin: str) -> subprocess.CompletedProcess[str]:
    import subprocess  # only with a credential helper

    program = f"docker-credential-{helper}"
    path = shutil.which(program)
    if path is None:
        raise RegistryError(f"credential helper {program} is not on PATH (named in docker's config.json)")
    try:
        return subprocess.run(
            [path, action], input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RegistryError(f"credential helper {program} {action} failed: {exc}") from None


def _helper_failure(
    helper: str, action: str, result: subprocess.CompletedProcess[str], secret: str = ""
) -> RegistryError:
    # A helper's output may echo what it was given: only its first line is shown, with the
    # secret we sent blanked out.
    lines = (result.stdout or result.stderr).strip().splitlines()
    reason = lines[0] if lines else f"exit status {result.returncode}"
    if secret:
        reason = reason.replace(secret, "********")
    return RegistryError(f"credential helper docker-credential-{helper} {action} failed: {reason}")


def _helper_get(helper: str, key: str) -> Credential | None:
    result = _run_helper(helper, "get", key)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).lower()
        if "credentials not found" in output:
            return None
        raise _helper_failure(helper, "get", result)
    try:
        answer = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RegistryError(f"credential helper docker-credential-{helper} get gave invalid JSON") from None
    username = str(answer.get("Username") or "")
    secret = str(answer.get("Secret") or "")
    if username == _TOKEN_USERNAME:
        return Credential("", "", secret)
    credential = Credential(username, secret)
    return credential or None


def _helper_store(helper: str, key: str, credential: Credential) -> None:
    if credential.identity_token:
        payload = {"ServerURL": key, "Username": _TOKEN_USERNAME, "Secret": credential.identity_token}
    else:
        payload = {"ServerURL": key, "Username": credential.username, "Secret": credential.password}
    result = _run_helper(helper, "store", json.dumps(payload))
    if result.returncode != 0:
        raise _helper_failure(helper, "store", result, payload["Secret"])


def _helper_erase(helper: str, key: str) -> bool:
    result = _run_helper(helper, "erase", key)
    if result.returncode != 0:
        if "credentials not found" in (result.stdout + result.stderr).lower():
            return False
        raise _helper_failure(helper, "erase", result)
    return True


def _helper_list(helper: str) -> dict[str, str]:
    result = _run_helper(helper, "list", "")
    if result.returncode != 0:
        raise _helper_failure(helper, "list", result)
    try:
        answer = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        raise RegistryError(f"credential helper docker-credential-{helper} list gave invalid JSON") from None
    return {str(k): str(v) for k, v in answer.items()}
