"""containers-policy.json: which images may be pulled (and so run or built on), per registry scope.

The file podman, skopeo, buildah and CRI-O read (containers-policy.json(5)): a ``default`` list
of requirements, and ``transports`` → scope → requirements. lamina pulls through the ``docker``
transport; a scope there is a full reference (``host/repo:tag``), a repository or namespace
(``host/repo``, ``host/ns``), a host (``host``), or a wildcard host (``*.example.com``). The most
specific scope that the file names wins, as in containers/image: identity, then each namespace
from the longest, then the wildcard hosts from the longest, then the transport's ``""`` entry,
then ``default``. Every requirement in the chosen list must accept the image.

Requirements: ``insecureAcceptAnything``, ``reject``, ``sigstoreSigned`` (cosign signatures
checked with ``keyPath``/``keyPaths``/``keyData``/``keyDatas`` and a ``signedIdentity``).
``fulcio`` (keyless: certificate chain, OIDC issuer and e-mail) and ``rekorPublicKey*`` (the
Rekor SET) are checked offline from what the signature carries. ``signedBy`` (GPG) and ``pki``
are refused with a clear line: lamina has no GPG.

Lookup: ``--policy FILE``, else ``$LAMINA_POLICY``, else ``policy.json`` in lamina's config
directory (beside config.toml), else ``/etc/containers/policy.json``; with none, anything is
accepted (docker's behaviour).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.errors import LaminaError, PolicyError, SignatureError
from lamina.oci.reference import Reference, parse_reference

SYSTEM_POLICY = Path("/etc/containers/policy.json")
MAX_POLICY_FILE = 4 * 1024 * 1024
REQUIREMENT_TYPES = ("insecureAcceptAnything", "reject", "signedBy", "sigstoreSigned", "signedBaseLayer")
IDENTITY_TYPES = ("matchExact", "matchRepoDigestOrExact", "matchRepository", "exactReference", "exactRepository",
                  "remapIdentity")

Requirement = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed containers-policy.json; ``source`` names the file in messages."""

    default: list[Requirement]
    transports: dict[str, dict[str, list[Requirement]]]
    source: str

    def requirements_for(self, ref: Reference, transport: str = "docker") -> tuple[str, list[Requirement]]:
        """The (scope, requirements) that apply to ``ref``: the most specific scope the file names."""
        scopes = self.transports.get(transport)
        if scopes is not None:
            for scope in docker_scopes(ref):
                if scope in scopes:
                    return f"{transport}:{scope}", scopes[scope]
            if "" in scopes:
                return f"{transport}:{_scope_label('')}", scopes[""]
        return "default", self.default

    def accepts_everything(self) -> bool:
        """True when no scope can ask for more than insecureAcceptAnything (a pull needs no checks)."""
        lists = [self.default, *(reqs for scopes in self.transports.values() for reqs in scopes.values())]
        return all(req["type"] == "insecureAcceptAnything" for reqs in lists for req in reqs)


def default_policy_path() -> Path | None:
    """``$LAMINA_POLICY``, else ``policy.json`` in lamina's config dir, else the system file; None if none exists."""
    explicit = os.environ.get("LAMINA_POLICY")
    if explicit:
        return Path(explicit)
    from lamina.registry.config import default_config_path

    for candidate in (default_config_path().parent / "policy.json", SYSTEM_POLICY):
        if candidate.is_file():
            return candidate
    return None


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and check a policy file; every mistake is one line naming the file and the place."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_POLICY_FILE + 1)
    except OSError as exc:
        raise PolicyError(f"{source}: cannot read policy: {exc.strerror or exc}") from None
    if len(data) > MAX_POLICY_FILE:
        raise PolicyError(f"{source}: policy file over {MAX_POLICY_FILE >> 20} MiB")
    return parse_policy(data, source=source)


def parse_policy(data: bytes, *, source: str = "policy.json") -> Policy:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{source}: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise PolicyError(f"{source}: the policy must be a JSON object")
    unknown = set(document) - {"default", "transports"}
    if unknown:
        raise PolicyError(f"{source}: unknown top-level key {sorted(unknown)[0]!r}")
    if "default" not in document:
        raise PolicyError(f"{source}: 'default' policy is missing")
    default = _requirements(document["default"], f"{source}: default")
    transports: dict[str, dict[str, list[Requirement]]] = {}
    raw_transports = document.get("transports") or {}
    if not isinstance(raw_transports, dict):
        raise PolicyError(f"{source}: 'transports' must be an object")
    for transport, scopes in raw_transports.items():
        if not isinstance(scopes, dict):
            raise PolicyError(f"{source}: transports.{transport} must be an object of scopes")
        transports[transport] = {scope: _requirements(reqs, f"{source}: {transport}:{_scope_label(scope)}")
                                 for scope, reqs in scopes.items()}
    return Policy(default, transports, source)


def docker_scopes(ref: Reference) -> list[str]:
    """containers/image's scopes for a docker reference, most specific first (without ``""``)."""
    identity = ref.repository + (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")
    scopes = [identity] if identity != ref.repository else []
    parts = ref.repository.split("/")
    scopes += ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]
    host = ref.domain.split(":")[0]
    labels = host.split(".")
    scopes += ["*." + ".".join(labels[i:]) for i in range(1, len(labels))]
    return scopes


def check_image(policy: Policy, ref: Reference, manifest_digest: str, *, registry: Any = None) -> str:
    """Check one image against the policy; returns the scope that accepted it, raises PolicyError if rejected.

    ``registry`` (a RegistryClient for ``ref``'s host) is only used by sigstoreSigned, to read
    the image's ``.sig`` attachments.
    """
    scope, requirements = policy.requirements_for(ref)
    if not requirements:
        raise PolicyError(f"{ref.familiar}: rejected by policy {policy.source} ({scope}): empty requirement list")
    for requirement in requirements:
        reason = _unmet(requirement, ref, manifest_digest, registry, policy.source)
        if reason:
            raise PolicyError(f"{ref.familiar}: rejected by policy {policy.source} ({scope}): "
                              f"{requirement['type']}: {reason}")
    return scope


def pull_gate(policy_path: str | os.PathLike[str] | None = None) -> Callable[[Any, Reference, str], None] | None:
    """The check a pull runs on the manifest it found, before it stores anything; None when none is needed.

    ``policy_path`` None: the default lookup (and no file at all: no check).
    """
    path = Path(policy_path) if policy_path is not None else default_policy_path()
    if path is None:
        return None
    policy = load_policy(path)
    if policy.accepts_everything():
        return None

    def admit(registry: Any, ref: Reference, manifest_digest: str) -> None:
        check_image(policy, ref, manifest_digest, registry=registry)

    return admit


# -- requirements ---------------------------------------------------------------------------

def _unmet(requirement: Requirement, ref: Reference, digest: str, registry: Any, source: str) -> str | None:
    kind = requirement["type"]
    if kind == "insecureAcceptAnything":
        return None
    if kind == "reject":
        return "images in this scope are rejected"
    if kind == "signedBy":
        return "GPG (simple signing) signatures are not supported by lamina; use sigstoreSigned"
    if kind == "signedBaseLayer":
        return "signedBaseLayer is not implemented (containers/image does not implement it either)"
    return _sigstore_unmet(requirement, ref, digest, registry, source)


def _sigstore_unmet(requirement: Requirement, ref: Reference, digest: str, registry: Any, source: str) -> str | None:
    from lamina.security.signing.attachments import read_attachments
    from lamina.security.signing.cosign import SIGNATURE_SUFFIX, verify_signatures

    keys, rekor_keys, fulcio = _sigstore_trust(requirement, source)
    if registry is None:
        return "no registry to read signatures from"
    try:
        attachments = read_attachments(registry, ref.path, digest, SIGNATURE_SUFFIX)
    except LaminaError as exc:
        return f"cannot read signatures: {exc}"
    if not attachments:
        return f"no signatures for {digest} (tag {digest.replace(':', '-')}.{SIGNATURE_SUFFIX})"
    check = identity_check(requirement.get("signedIdentity") or {"type": "matchRepoDigestOrExact"}, ref)
    try:
        verify_signatures(attachments, keys, digest, identity_check=check, where="signatures",
                          rekor_keys=rekor_keys, fulcio=fulcio)
    except SignatureError as exc:
        return str(exc).removeprefix("signatures: ")
    return None


def _sigstore_trust(requirement: Requirement, source: str) -> tuple[list, list, Any]:
    """(public keys, Rekor keys, Fulcio trust) from a sigstoreSigned requirement, checked as containers/image does."""
    from lamina.security.signing.keyless import FulcioTrust

    where = f"{source}: sigstoreSigned"
    if "pki" in requirement:
        raise PolicyError(f"{where}: pki (X.509 CA-signed keys) is not supported by lamina; use keyPath or fulcio")
    sources = [name for name in ("keyPath", "keyPaths", "keyData", "keyDatas", "fulcio") if name in requirement]
    if len(sources) != 1:
        raise PolicyError(f"{where}: exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio is needed")
    rekor_sources = [name for name in ("rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData",
                                       "rekorPublicKeyDatas") if name in requirement]
    if len(rekor_sources) > 1:
        raise PolicyError(f"{where}: at most one of {', '.join(rekor_sources)}")
    rekor_keys = _public_keys(requirement, rekor_sources[0], where) if rekor_sources else []
    if sources[0] != "fulcio":
        return _public_keys(requirement, sources[0], where), rekor_keys, None
    fulcio = requirement["fulcio"]
    if not isinstance(fulcio, dict):
        raise PolicyError(f"{where}: fulcio must be an object")
    if not rekor_keys:
        raise PolicyError(f"{where}: fulcio needs a rekorPublicKeyPath or rekorPublicKeyData to date certificates")
    for name in ("oidcIssuer", "subjectEmail"):
        if not isinstance(fulcio.get(name), str) or not fulcio[name]:
            raise PolicyError(f"{where}: fulcio.{name} is required")
    roots = [name for name in ("caPath", "caData") if name in fulcio]
    if len(roots) != 1:
        raise PolicyError(f"{where}: fulcio needs exactly one of caPath, caData")
    try:
        roots_pem = (Path(fulcio["caPath"]).read_bytes() if roots[0] == "caPath"
                     else base64.b64decode(fulcio["caData"], validate=True))
    except OSError as exc:
        raise PolicyError(f"{where}: fulcio.caPath: {exc.strerror or exc}") from None
    except (binascii.Error, TypeError):
        raise PolicyError(f"{where}: fulcio.caData is not base64") from None
    return [], rekor_keys, FulcioTrust(roots_pem, fulcio["oidcIssuer"], fulcio["subjectEmail"])


def _public_keys(requirement: Requirement, name: str, where: str) -> list:
    from lamina.security.signing.keys import load_public_key, read_key_file

    value = requirement[name]
    plural = name.endswith("s")
    values = value if plural else [value]
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{where}: {name} must be {'a non-empty list of strings' if plural else 'a string'}")
    keys = []
    for index, item in enumerate(values):
        try:
            if "Path" in name:
                keys.append(load_public_key(read_key_file(item), where=item))
            else:
                keys.append(load_public_key(base64.b64decode(item, validate=True), where=f"{where}.{name}[{index}]"))
        except binascii.Error:
            raise PolicyError(f"{where}: {name}[{index}] is not base64") from None
        except SignatureError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    return keys


def identity_check(matcher: dict[str, Any], image: Reference) -> Callable[[str], str | None]:
    """containers/image's signedIdentity rules, as a check of a signature's docker-reference."""
    kind = matcher.get("type")

    def parse(name: str) -> Reference | None:
        try:
            return parse_reference(name, default_tag=False)
        except LaminaError:
            return None

    def exact(signed: Reference, wanted: Reference) -> bool:
        return (signed.tag or signed.digest) is not None and signed == wanted

    def check(name: str) -> str | None:
        signed = parse(name)
        if signed is None:
            return f"signed identity {name!r} is not a docker reference"
        target = image
        if kind == "remapIdentity":
            prefix, signed_prefix = matcher.get("prefix", ""), matcher.get("signedPrefix", "")
            text = str(image)
            if text == prefix or text.startswith(prefix.rstrip("/") + "/") or text.startswith(prefix + ":") \
                    or text.startswith(prefix + "@"):
                remapped = parse(signed_prefix + text[len(prefix):])
                if remapped is None:
                    return f"remapping {text} with {prefix!r} → {signed_prefix!r} gives no valid reference"
                target = remapped
        if kind in ("matchRepoDigestOrExact", "remapIdentity"):
            if target.digest:
                ok = signed.repository == target.repository
            else:
                ok = exact(signed, target)
        elif kind == "matchExact":
            ok = exact(signed, target)
        elif kind == "matchRepository":
            ok = signed.repository == target.repository
        elif kind == "exactReference":
            wanted = parse(str(matcher.get("dockerReference", "")))
            ok = wanted is not None and exact(signed, wanted)
        elif kind == "exactRepository":
            wanted = parse(str(matcher.get("dockerRepository", "")))
            ok = wanted is not None and signed.repository == wanted.repository
        else:
            return f"unknown signedIdentity type {kind!r}"
        return None if ok else f"signed identity {name} does not match {target} ({kind})"

    return check


def _requirements(value: Any, where: str) -> list[Requirement]:
    if not isinstance(value, list):
        raise PolicyError(f"{where}: requirements must be a list")
    result = []
    for index, requirement in enumerate(value):
        if not isinstance(requirement, dict) or requirement.get("type") not in REQUIREMENT_TYPES:
            kind = requirement.get("type") if isinstance(requirement, dict) else requirement
            raise PolicyError(f"{where}[{index}]: unknown policy requirement type {kind!r}")
        identity = requirement.get("signedIdentity")
        if identity is not None and (not isinstance(identity, dict) or identity.get("type") not in IDENTITY_TYPES):
            raise PolicyError(f"{where}[{index}]: unknown signedIdentity {identity!r}")
        result.append(requirement)
    return result


def _scope_label(scope: str) -> str:
    return scope or '""'
