"""Signatures and attestations travel with ``save``/``load``: the archive's index.json carries the
``.sig``/``.att`` manifests as descriptors named ``sha256-<hex>.sig`` (cosign save's layout);
skopeo reads them and the image from the archive; ``verify``/``verify-attestation`` check them
offline from the archive; a second store's ``load`` keeps them (a second save still verifies, a
push sends them); tampered archives fail with one line."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from lamina.security.signing.keys import generate_key_pair
from tests.conftest import Lamina, require_tool
from tests.security import sign_support

sign_registry = sign_support.sign_registry
PASS = "archive-pass"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    return sign_support.key_files(tmp_path_factory.mktemp("archive-keys"), PASS)


@pytest.fixture
def cli(lamina, monkeypatch, imported_busybox):
    monkeypatch.setenv("COSIGN_PASSWORD", PASS)
    return lamina


def _skopeo(*args: str) -> bytes:
    skopeo = require_tool("skopeo", "skopeo")
    return subprocess.run([skopeo, *args], capture_output=True, check=True).stdout


def _index(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return json.loads(tar.extractfile("index.json").read())


def _rewrite(archive: Path, target: Path, change) -> None:
    """Copy ``archive`` to ``target`` with ``change(name, data) -> data`` applied to each file."""
    with tarfile.open(archive) as source, tarfile.open(target, "w") as out:
        for member in source:
            data = source.extractfile(member).read() if member.isfile() else None
            if data is not None:
                data = change(member.name, data)
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)


def _signed_pushed(cli: Lamina, registry, keys, name: str) -> tuple[str, str]:
    image = f"{registry.host}/archive/{name}:v1"
    cli.run("tag", "busybox:latest", image)
    cli.run("push", image)
    cli.run("sign", "--key", str(keys[0]), image)
    digest = json.loads(cli.out("verify", "--key", str(keys[1]), image))[0]["critical"]["image"][
        "docker-manifest-digest"]
    return image, digest


def test_signed_image_saves_with_its_signature_and_verifies_offline(cli, sign_registry, keys, tmp_path):
    image, digest = _signed_pushed(cli, sign_registry, keys, "sig")
    archive = tmp_path / "signed.tar"
    cli.run("save", "-o", str(archive), image)
    tag = digest.replace(":", "-") + ".sig"
    entries = {(d.get("annotations") or {}).get("org.opencontainers.image.ref.name"): d for d in _index(archive)["manifests"]}
    assert tag in entries
    # skopeo reads the signature manifest and the image from the archive (an OCI layout, docker 25's save)
    raw = _skopeo("inspect", "--raw", f"oci-archive:{archive}:{tag}")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == entries[tag]["digest"]
    assert json.loads(raw)["layers"][0]["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    # the archive's image entry is the very manifest that was signed (skopeo 1.9's OCI transport skips
    # docker media types in an index, so the blob is read here)
    assert entries["v1"]["digest"] == digest
    with tarfile.open(archive) as tar:
        assert "sha256:" + hashlib.sha256(tar.extractfile("blobs/" + digest.replace(":", "/")).read()).hexdigest() == digest
        signed_manifest = json.loads(tar.extractfile("blobs/" + digest.replace(":", "/")).read())
    config = _skopeo("inspect", "--config", "--raw", f"docker-archive:{archive}")  # docker ≤24's manifest.json view
    assert "sha256:" + hashlib.sha256(config).hexdigest() == signed_manifest["config"]["digest"]
    verified = json.loads(cli.out("verify", "--key", str(keys[1]), f"docker-archive:{archive}"))
    assert verified[0]["critical"]["image"]["docker-manifest-digest"] == digest
    other = generate_key_pair("x")
    (tmp_path / "other.pub").write_bytes(other.public_pem)
    assert "does not verify" in cli.fails("verify", "--key", str(tmp_path / "other.pub"), f"docker-archive:{archive}")


def test_load_keeps_attestations_for_the_next_save_and_push(cli, sign_registry, keys, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox:latest\nRUN echo built > /built\n")
    built = f"{sign_registry.host}/archive/built:v1"
    cli.run("build", "--sbom", "--provenance", "--attest-key", str(keys[0]), "-t", built, str(context))
    first = tmp_path / "first.tar"
    cli.run("save", "-o", str(first), built)
    out = cli.out("verify-attestation", "--key", str(keys[1]), "--type", "slsaprovenance", f"docker-archive:{first}")
    assert len(out.splitlines()) == 1
    second_store = Lamina(tmp_path / "second-store", cli.environ if hasattr(cli, "environ") else None)
    second_store.run("load", "-i", str(first))
    again = tmp_path / "again.tar"
    second_store.run("save", "-o", str(again), built)
    assert len(cli.out("verify-attestation", "--key", str(keys[1]), f"oci-archive:{again}").splitlines()) == 2
    second_store.run("push", built)
    statements = cli.out("verify-attestation", "--key", str(keys[1]), built).splitlines()
    assert len(statements) == 2


def test_tampered_archives_fail_with_one_line(cli, sign_registry, keys, tmp_path, busybox_tar):
    image, digest = _signed_pushed(cli, sign_registry, keys, "tamper")
    archive = tmp_path / "signed.tar"
    cli.run("save", "-o", str(archive), image)
    sig_manifest = next(d for d in _index(archive)["manifests"]
                        if (d.get("annotations") or {}).get("org.opencontainers.image.ref.name", "").endswith(".sig"))
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("blobs/" + sig_manifest["digest"].replace(":", "/")).read())
    payload_digest = manifest["layers"][0]["digest"]

    def flip_payload(name: str, data: bytes) -> bytes:
        return data.replace(b"cosign container image signature", b"cosign container image signaturE") \
            if name == "blobs/" + payload_digest.replace(":", "/") else data

    broken = tmp_path / "payload.tar"
    _rewrite(archive, broken, flip_payload)
    assert "does not match its digest" in cli.fails("verify", "--key", str(keys[1]), f"docker-archive:{broken}")

    # a re-hashed manifest whose signature annotation is another signature's: consistent blobs, bad signature
    forged = dict(manifest)
    forged["layers"] = [dict(manifest["layers"][0], annotations={
        "dev.cosignproject.cosign/signature": "MEUCIQCm0jvrP5b3ZiQuxLMu2bPqRBJZ+WnW0FnrkBELfGt4PAIgH5YnH0V6h9gFTGHx6qbR5QdZ/9wn3pIuA7EHaG8hWWo="})]
    forged_bytes = json.dumps(forged).encode()
    forged_digest = "sha256:" + hashlib.sha256(forged_bytes).hexdigest()

    def swap_manifest(name: str, data: bytes) -> bytes:
        if name == "index.json":
            return data.replace(sig_manifest["digest"].encode(), forged_digest.encode()).replace(
                b'"size":%d' % sig_manifest["size"], b'"size":%d' % len(forged_bytes))
        if name == "blobs/" + sig_manifest["digest"].replace(":", "/"):
            return forged_bytes
        return data

    forged_archive = tmp_path / "forged.tar"
    _rewrite(archive, forged_archive, swap_manifest)
    # the forged manifest sits at the old path, so the digest check catches it first
    assert "lamina: error:" in cli.fails("verify", "--key", str(keys[1]), f"docker-archive:{forged_archive}")
    unsigned = tmp_path / "unsigned.tar"
    cli.run("import", str(busybox_tar), "plain:v1", "-c", 'CMD ["true"]')  # another image, never signed
    cli.run("save", "-o", str(unsigned), "plain:v1")
    assert "no signatures in the archive" in cli.fails("verify", "--key", str(keys[1]), f"docker-archive:{unsigned}")


def test_attachments_survive_gc_and_go_with_the_image(cli, sign_registry, keys, tmp_path):
    image, digest = _signed_pushed(cli, sign_registry, keys, "gc")
    cli.run("system", "prune", "-f")
    archive = tmp_path / "after-prune.tar"
    cli.run("save", "-o", str(archive), image)
    assert json.loads(cli.out("verify", "--key", str(keys[1]), f"docker-archive:{archive}"))
    sig_digest = next(d["digest"] for d in _index(archive)["manifests"]
                      if (d.get("annotations") or {}).get("org.opencontainers.image.ref.name", "").endswith(".sig"))
    blob = next((cli.root / "blobs").rglob(sig_digest.split(":")[1]))
    assert blob.is_file()  # kept through the prune: the image holds it
    image_id = cli.out("image", "inspect", "--format", "{{.Id}}", image).strip()
    cli.run("rmi", "-f", image_id)
    cli.run("system", "prune", "-f")
    assert not blob.exists()  # gone with the image


def test_hostile_attachment_entries_in_a_loaded_archive(cli, sign_registry, keys, tmp_path):
    image, digest = _signed_pushed(cli, sign_registry, keys, "hostile")
    archive = tmp_path / "signed.tar"
    cli.run("save", "-o", str(archive), image)
    index = _index(archive)
    tag = digest.replace(":", "-") + ".sig"

    def odd_annotations(name: str, data: bytes) -> bytes:
        if name != "index.json":
            return data
        changed = dict(index, manifests=[*index["manifests"], {"mediaType": "x", "digest": "sha256:" + "1" * 64,
                                                                "size": 1, "annotations": ["not", "a", "map"]}])
        return json.dumps(changed).encode()

    odd = tmp_path / "odd.tar"
    _rewrite(archive, odd, odd_annotations)
    second = Lamina(tmp_path / "second")
    assert "Loaded image" in second.out("load", "-i", str(odd))

    def missing_manifest(name: str, data: bytes) -> bytes:
        if name != "index.json":
            return data
        entries = [dict(d, digest="sha256:" + "2" * 64) if (d.get("annotations") or {}).get(
            "org.opencontainers.image.ref.name") == tag else d for d in index["manifests"]]
        return json.dumps(dict(index, manifests=entries)).encode()

    missing = tmp_path / "missing.tar"
    _rewrite(archive, missing, missing_manifest)
    third = Lamina(tmp_path / "third")
    assert "is missing" in third.fails("load", "-i", str(missing))
    assert "is missing" in cli.fails("verify", "--key", str(keys[1]), f"docker-archive:{missing}")


def test_copy_from_an_archive_carries_the_signatures_to_a_registry(cli, sign_registry, keys, tmp_path):
    image, digest = _signed_pushed(cli, sign_registry, keys, "copysrc")
    archive = tmp_path / "signed.tar"
    cli.run("save", "-o", str(archive), image)
    target = f"{sign_registry.host}/archive/copied:v1"
    out = cli.out("copy", f"docker-archive:{archive}", target)
    assert digest in out  # the very manifest that was signed
    verified = json.loads(cli.out("verify", "--key", str(keys[1]), target))
    assert verified[0]["critical"]["image"]["docker-manifest-digest"] == digest
