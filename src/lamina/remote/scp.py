"""``lamina image scp SRC [user@]host::[REF]`` (podman's): copy an image into another host's
store over ssh, sending only the layer blobs that store lacks (``host::IMAGE [REF]`` copies
the other way, the same exchange with the roles swapped: ``--serve-source``).

One ssh connection to the remote lamina's hidden server side of the same command,
``image scp --serve``, which on its stdin/stdout:

1. reads the image's layer digests, one a line, up to an empty line, and answers the ones its
   store holds as checked layers (a layer row records the blob and the blob file is there),
   again ending with an empty line;
2. then reads a partial OCI image layout — ``oci-layout``, ``index.json``, the manifest and
   config, and only the layers it lacks — and loads it with
   :func:`lamina.archive.load.load_archive` ``stored_layers=True``, which takes each layer left
   out from its own store only after checking it is recorded there with the same diffID and
   size, and prints the loaded image as one JSON line. If a layer vanished in between (a
   prune), the load fails and, as every load does, removes what it added: neither store is ever
   left with half an image.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from lamina.errors import ConflictError, RemoteError, StoreError, UsageError
from lamina.store.store import LayerRecord, Store

#: more layer digests than any image has (docker's limit is 127 layers; OCI sets none)
MAX_LAYERS = 10_000

__all__ = ["ScpDestination", "parse_destination", "ImagePlan", "plan_image", "stored_layers", "write_partial_layout",
           "serve", "send_image", "SentImage",
           "serve_source", "fetch_image"]


@dataclass(frozen=True, slots=True)
class ScpDestination:
    host: str           # ssh destination: [user@]host, a ~/.ssh/config alias, or ssh://…
    reference: str      # "" = the source's own name


@dataclass(slots=True)
class ImagePlan:
    image_id: str
    config_bytes: bytes
    layers: list[LayerRecord]
    manifest_bytes: bytes
    manifest_digest: str


@dataclass(slots=True)
class SentImage:
    image_id: str
    reference: str
    layers_sent: int
    layers_skipped: int
    bytes_sent: int


def parse_destination(text: str) -> ScpDestination:
    """``[user@]host::[REF]`` or ``ssh://[user@]host[:port]::[REF]``."""
    host, sep, reference = text.partition("::")
    if not sep or not host:
        raise UsageError(f"invalid destination {text!r}: expected [user@]host::[IMAGE]")
    if any(c.isspace() for c in host) or host.startswith("-"):
        raise UsageError(f"invalid destination host {host!r}")
    return ScpDestination(host, reference)


def plan_image(store: Store, image_id: str) -> ImagePlan:
    """The OCI manifest that describes a stored image, as ``save`` writes it."""
    from lamina.oci import mediatypes as mt
    from lamina.oci.digest import sha256_digest
    from lamina.oci.models import encode

    config_bytes = store.config_bytes(image_id)
    layers = []
    for diff_id in store.image_diff_ids(image_id):
        layer = store.layer_for(diff_id)
        if layer is None:
            raise StoreError(f"image {image_id}: layer {diff_id} is missing from the store (run 'lamina fsck')")
        layers.append(layer)
    manifest = encode({
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": image_id, "size": len(config_bytes)},
        "layers": [{"mediaType": mt.oci_layer_type(mt.layer_compression(layer.media_type)), "digest": layer.blob_digest,
                    "size": layer.blob_size} for layer in layers],
    })
    return ImagePlan(image_id, config_bytes, layers, manifest, sha256_digest(manifest))


def stored_layers(store: Store, digests: Iterable[str]) -> list[str]:
    """The subset of layer blob digests this store holds as checked layers (``--have``)."""
    from lamina.oci.digest import is_digest

    present = []
    for digest in digests:
        digest = digest.strip()
        if not digest or not is_digest(digest):
            continue
        row = store.layer_of_blob(digest)
        try:
            if row is not None and store.content.has(digest) and store.content.size(digest) == row.blob_size:
                present.append(digest)
        except OSError:
            continue
    return present


def write_partial_layout(store: Store, plan: ImagePlan, reference: str, skip: set[str], out: BinaryIO) -> int:
    """Stream the image as an OCI layout leaving out the layer blobs in ``skip``; bytes of blobs sent."""
    from lamina.archive.tarstream import TarWriter
    from lamina.oci import mediatypes as mt
    from lamina.oci.models import encode

    writer = TarWriter(out)
    writer.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    writer.add_dir("blobs")
    writer.add_dir("blobs/sha256")
    sent = 0
    written: set[str] = set()
    for layer in plan.layers:
        if layer.blob_digest in skip or layer.blob_digest in written:
            continue
        writer.add_file("blobs/" + layer.blob_digest.replace(":", "/"), store.content.path(layer.blob_digest),
                        layer.blob_size)
        written.add(layer.blob_digest)
        sent += layer.blob_size
    writer.add_bytes("blobs/" + plan.image_id.replace(":", "/"), plan.config_bytes)
    writer.add_bytes("blobs/" + plan.manifest_digest.replace(":", "/"), plan.manifest_bytes)
    descriptor: dict = {"mediaType": mt.OCI_MANIFEST, "digest": plan.manifest_digest, "size": len(plan.manifest_bytes)}
    if reference:
        descriptor["annotations"] = {"io.containerd.image.name": reference}
    writer.add_bytes("index.json", encode({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [descriptor]}))
    writer.close()
    return sent


def serve(store: Store, requests: BinaryIO, answers: BinaryIO) -> list:
    """The other host's side (``--serve``): answer which layers are here, then load the
    partial layout that follows (``LoadedImage`` records)."""
    from lamina.archive.load import load_archive

    asked = []
    while len(asked) <= MAX_LAYERS:
        line = requests.readline(200)
        if not line.strip():
            break
        asked.append(line.decode("ascii", errors="replace").strip())
    else:
        raise UsageError(f"image scp: more than {MAX_LAYERS} layers asked about")
    answers.write("".join(f"{digest}\n" for digest in stored_layers(store, asked)).encode() + b"\n")
    answers.flush()
    return load_archive(store, requests, what="image scp stream", stored_layers=True)


def send_image(store: Store, source: str, destination: ScpDestination) -> SentImage:
    """Copy ``source`` from ``store`` into the destination host's store; what was sent."""
    import subprocess
    import tempfile

    from lamina.oci.reference import parse_reference
    from lamina.remote.transport import remote_error_line, remote_process

    image_id = store.resolve(source)
    reference = destination.reference or _source_name(store, source, image_id)
    if reference:
        reference = str(parse_reference(reference))  # a bad name fails here, before any connection
    plan = plan_image(store, image_id)
    target = _target(destination.host)
    digests = sorted({layer.blob_digest for layer in plan.layers})
    have: set[str] = set()
    sent, output = 0, b""
    with tempfile.TemporaryFile() as errors:
        with remote_process(target, ["image", "scp", "--serve"], stdout=subprocess.PIPE, stderr=errors) as process:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write("".join(f"{digest}\n" for digest in digests).encode() + b"\n")
            process.stdin.flush()
            for _ in range(len(digests) + 1):
                line = process.stdout.readline(200).strip()
                if not line:
                    break
                have.add(line.decode(errors="replace"))
            have &= set(digests)
            if process.poll() is None:
                sent = write_partial_layout(store, plan, reference, have, process.stdin)
                process.stdin.close()
            output = process.stdout.read(1 << 16)
        if process.returncode != 0:
            errors.seek(0)
            raise RemoteError(f"{target}: {remote_error_line(errors.read())}")
        try:
            loaded = json.loads(output or b"null")
        except ValueError:
            loaded = None
    if not isinstance(loaded, dict) or loaded.get("Id") != image_id:
        raise RemoteError(f"{target}: the image arrived as {loaded!r}, expected {image_id}")
    unique = {layer.blob_digest for layer in plan.layers}
    familiar = parse_reference(reference).familiar if reference else ""
    return SentImage(image_id, familiar, len(unique - have), len(unique & have), sent)


def _source_name(store: Store, source: str, image_id: str) -> str:
    """The tag to give over there when none is named: the source's own name, if it is one."""
    from lamina.errors import InvalidReferenceError
    from lamina.oci.reference import parse_reference

    if source.startswith("sha256:") or source == image_id[7:7 + len(source)]:
        return ""
    try:
        ref = parse_reference(source)
    except InvalidReferenceError:
        return ""
    return str(ref) if ref.tag is not None else ""


def _target(host: str):
    from lamina.remote.transport import SshTarget, parse_host

    if host.startswith("ssh://"):
        return parse_host(host)
    user, at, name = host.rpartition("@")
    if at and not user:
        raise UsageError(f"invalid destination host {host!r}: empty user name")
    if not name:
        raise ConflictError(f"invalid destination host {host!r}")
    return SshTarget(name, user or None, None)


def serve_source(store: Store, source: str, requests: BinaryIO, answers: BinaryIO) -> None:
    """The other host's side when it is the source (``--serve-source IMAGE``): read the name to
    give (one line, may be empty), send the layer digests, read which the receiver holds, then
    send the partial layout."""
    from lamina.oci.reference import parse_reference

    wanted = requests.readline(1024).decode("utf-8", errors="replace").strip()
    image_id = store.resolve(source)
    reference = wanted or _source_name(store, source, image_id)
    if reference:
        reference = str(parse_reference(reference))
    plan = plan_image(store, image_id)
    digests = sorted({layer.blob_digest for layer in plan.layers})
    answers.write("".join(f"{digest}\n" for digest in digests).encode() + b"\n")
    answers.flush()
    held = set()
    for _ in range(len(digests) + 1):
        line = requests.readline(200).strip()
        if not line:
            break
        held.add(line.decode(errors="replace"))
    write_partial_layout(store, plan, reference, held & set(digests), answers)
    answers.flush()


def fetch_image(store: Store, source: ScpDestination, reference: str) -> SentImage:
    """Copy ``source`` (``host::IMAGE``) from the other host into ``store`` under ``reference``
    (or its own name); only the layers this store lacks travel."""
    import subprocess
    import tempfile

    from lamina.archive.load import load_archive
    from lamina.errors import LaminaError
    from lamina.oci.reference import parse_reference
    from lamina.remote.transport import remote_error_line, remote_process

    if not source.reference:
        raise UsageError(f"no image named in {source.host}::")
    if reference:
        reference = str(parse_reference(reference))
    target = _target(source.host)
    digests: list[str] = []
    have: list[str] = []
    loaded: list = []
    failure: LaminaError | None = None
    with tempfile.TemporaryFile() as errors:
        with remote_process(target, ["image", "scp", "--serve-source", source.reference], stdout=subprocess.PIPE,
                            stderr=errors) as process:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(reference.encode() + b"\n")
            process.stdin.flush()
            while len(digests) <= MAX_LAYERS:
                line = process.stdout.readline(200).strip()
                if not line:
                    break
                digests.append(line.decode(errors="replace"))
            if digests:
                have = stored_layers(store, digests)
                process.stdin.write("".join(f"{digest}\n" for digest in have).encode() + b"\n")
                process.stdin.close()
                try:
                    loaded = load_archive(store, process.stdout, what="image scp stream", stored_layers=True)
                except LaminaError as exc:
                    failure = exc
        if process.returncode != 0:
            errors.seek(0)
            raise RemoteError(f"{target}: {remote_error_line(errors.read())}")
    if failure is not None:
        raise failure
    if not loaded:
        raise RemoteError(f"{target}: no image arrived")
    image = loaded[0]
    sizes = {}
    for digest in set(digests) - set(have):
        try:
            sizes[digest] = store.content.size(digest)
        except OSError:
            sizes[digest] = 0
    return SentImage(image.image_id, image.tags[0] if image.tags else "", len(sizes), len(set(have)),
                     sum(sizes.values()))
