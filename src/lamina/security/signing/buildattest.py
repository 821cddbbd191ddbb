"""``build --sbom --provenance``: attestations about a freshly built image, kept in the local store.

BuildKit's ``--attest type=sbom`` / ``type=provenance`` attach an SBOM and SLSA provenance to the
image it exports; lamina stores them as cosign attestations (an in-toto statement in a DSSE
envelope, one layer each of the image's ``sha256-<hex>.att`` manifest) so ``push`` carries them to
the registry and ``verify-attestation`` checks them there. A statement names the image by its
*manifest* digest, which a stored image only gets when it is pushed: the build therefore pins the
manifest a plain ``push`` sends (gzip layers) and keeps it, and ``push`` reuses that very manifest.
With ``--attest-key`` the envelopes are signed; without, they carry no signature (as BuildKit's
attestations are unsigned) and ``verify-attestation`` refuses them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lamina.security.signing.attachments import Attachment, append_attachment
from lamina.security.signing.attest import (
    ATTESTATION_SUFFIX,
    DSSE_MEDIA_TYPE,
    IN_TOTO_PAYLOAD_TYPE,
    PREDICATE_TYPES,
    make_envelope,
    make_statement,
)
from lamina.security.signing.cosign import SIGNATURE_ANNOTATION
from lamina.security.signing.localstore import StoreAttachments

if TYPE_CHECKING:
    from lamina.security.signing.keys import PrivateKey
    from lamina.store.store import Store

BUILDER_ID = "urn:lamina:builder"
BUILD_TYPE = "urn:lamina:build:dockerfile@v1"
#: Context files hashed into the provenance's context digest at most (bounded time on huge trees).
MAX_CONTEXT_FILES = 200_000


@dataclass(slots=True)
class BuildFacts:
    """What the provenance tells about one build (build args only: ``--secret`` never enters it)."""

    context: str
    dockerfile: str
    build_args: Sequence[str] = ()
    target: str | None = None
    platform: str | None = None
    bases: list[tuple[str, str]] = field(default_factory=list)  # (FROM reference, image ID)
    started: float = field(default_factory=time.time)
    _stages: set[str] = field(default_factory=set)
    _pending: str | None = None

    def __call__(self, event: object) -> None:
        """Build events in: each FROM of an image (not of an earlier stage) and the image it gave."""
        from lamina.build import events

        if isinstance(event, events.StepStarted):
            words = event.text.split()
            self._pending = None
            if words and words[0].upper() == "FROM":
                names = [word for word in words[1:] if not word.startswith("--")]
                if names and names[0].lower() not in self._stages and names[0] != "scratch":
                    self._pending = names[0]
                if len(names) >= 3 and names[1].upper() == "AS":
                    self._stages.add(names[2].lower())
        elif isinstance(event, events.StepFinished) and self._pending is not None:
            if event.image_id and (self._pending, event.image_id) not in self.bases:
                self.bases.append((self._pending, event.image_id))
            self._pending = None


def attach_build_attestations(store: Store, image_id: str, manifest_digest: str, *, root: str | None,
                              repository: str, sbom: bool, provenance: BuildFacts | None,
                              key: PrivateKey | None = None) -> str:
    """Append the SBOM and/or provenance attestations about ``manifest_digest`` (the push manifest
    the caller pinned and kept) to the image's ``.att`` in the store; returns that digest."""
    with store.lease():
        local = StoreAttachments(store, image_id)
        if sbom:
            from lamina.security.sbom import sbom as make_sbom

            document = json.loads(make_sbom(image_id, root=root, format="cyclonedx-json"))
            _append(local, repository, manifest_digest, PREDICATE_TYPES["cyclonedx"], document, key)
        if provenance is not None:
            predicate = provenance_predicate(provenance, store)
            _append(local, repository, manifest_digest, PREDICATE_TYPES["slsaprovenance"], predicate, key)
    return manifest_digest


def provenance_predicate(facts: BuildFacts, store: Store | None = None) -> dict:
    """A SLSA provenance v0.2 predicate: builder, the Dockerfile's digest, build args, base images
    (by repo digest when the store knows one, else by image ID) and the context's digest."""
    dockerfile = Path(facts.dockerfile)
    arguments = {}
    for arg in facts.build_args:
        name, sep, value = arg.partition("=")
        arguments[f"build-arg:{name}"] = value if sep else os.environ.get(name, "")
    if facts.target:
        arguments["target"] = facts.target
    if facts.platform:
        arguments["platform"] = facts.platform
    materials = []
    for reference, base_id in facts.bases:
        digest = _repo_digest(store, base_id) if store is not None else ""
        algorithm, _, hex_part = (digest or base_id).partition(":")
        materials.append({"uri": f"pkg:docker/{reference}", "digest": {algorithm: hex_part}})
    materials.append({"uri": f"file://{Path(facts.context).resolve().as_posix()}",
                      "digest": {"sha256": context_digest(facts.context)}})
    from lamina import __version__

    return {
        "builder": {"id": f"{BUILDER_ID}@{__version__}"},
        "buildType": BUILD_TYPE,
        "invocation": {
            "configSource": {"uri": dockerfile.name, "entryPoint": dockerfile.name,
                             "digest": {"sha256": hashlib.sha256(dockerfile.read_bytes()).hexdigest()}},
            "parameters": {"frontend": "dockerfile.v0", "args": arguments},
            "environment": {"platform": facts.platform or "linux/" + _machine()},
        },
        "metadata": {
            "buildStartedOn": _rfc3339(facts.started), "buildFinishedOn": _rfc3339(time.time()),
            "completeness": {"parameters": True, "environment": True, "materials": True},
            "reproducible": False,
        },
        "materials": materials,
    }


def context_digest(context: str) -> str:
    """sha256 over the context directory: each regular file's and link's relative path, kind and
    content (or target), in sorted order; the same tree gives the same digest anywhere."""
    top = Path(context)
    entries = []
    for directory, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory, name)
            relative = path.relative_to(top).as_posix()
            if path.is_symlink():
                entries.append(f"l {relative} {os.readlink(path)}")
            elif path.is_file():
                digest = hashlib.sha256()
                with open(path, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        digest.update(chunk)
                entries.append(f"f {relative} {digest.hexdigest()}")
            if len(entries) > MAX_CONTEXT_FILES:
                from lamina.errors import BuildError

                raise BuildError(f"{context}: over {MAX_CONTEXT_FILES} files to hash for the provenance")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def unsigned_envelope(statement: bytes) -> bytes:
    """A DSSE envelope with no signature (BuildKit's attestations are unsigned)."""
    envelope = {"payloadType": IN_TOTO_PAYLOAD_TYPE, "payload": base64.b64encode(statement).decode(),
                "signatures": []}
    return json.dumps(envelope, separators=(",", ":")).encode()


def _append(local: StoreAttachments, repository: str, manifest_digest: str, predicate_type: str,
            predicate: dict, key: PrivateKey | None) -> None:
    statement = make_statement(repository, manifest_digest, predicate_type, predicate)
    envelope = make_envelope(statement, key) if key is not None else unsigned_envelope(statement)
    attachment = Attachment(DSSE_MEDIA_TYPE, envelope, {SIGNATURE_ANNOTATION: "", "predicateType": predicate_type})
    append_attachment(_Replacing(local, predicate_type), repository, manifest_digest, ATTESTATION_SUFFIX, attachment)


class _Replacing:
    """The store's attachments with the earlier build attestations of one predicate type left out,
    so a rebuild replaces its SBOM/provenance instead of piling up one per build (as BuildKit)."""

    def __init__(self, local: StoreAttachments, predicate_type: str) -> None:
        self.local, self.predicate_type = local, predicate_type
        self.host = local.host

    def get_manifest(self, repository: str, reference: str, accept=None):
        manifest = self.local.get_manifest(repository, reference, accept)
        document = json.loads(manifest.data)
        document["layers"] = [layer for layer in document.get("layers", [])
                              if (layer.get("annotations") or {}).get("predicateType") != self.predicate_type]
        return manifest._replace(data=json.dumps(document, separators=(",", ":")).encode())

    def __getattr__(self, name: str):
        return getattr(self.local, name)


def _repo_digest(store: Store, image_id: str) -> str:
    if not image_id:
        return ""
    from lamina.errors import ImageNotFoundError

    try:
        record = store.image(image_id)
    except ImageNotFoundError:  # a base removed meanwhile: named by its ID
        return ""
    return record.repo_digests[0].partition("@")[2] if record.repo_digests else ""


def _machine() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _rfc3339(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
