"""pull and push through the real CLI, against real registries and the real docker."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from lamina.oci.models import encode
from lamina.registry.client import RegistryClient
from lamina.registry.config import RegistryConfig
from tests.conftest import Lamina, store_listing
from tests.registry.conftest import PASSWORD, USER
from tests.registry.servers import Fault

pytestmark = pytest.mark.registry


@pytest.fixture
def pushed(lamina: Lamina, busybox_tar, anon_registry):
    """An image pushed by lamina to the anonymous registry; returns its reference."""
    ref = f"{anon_registry.host}/pp/bb:{os.urandom(3).hex()}"
    lamina.out("import", str(busybox_tar), ref, "-c", 'CMD ["echo", "pulled and running"]')
    lamina.out("push", ref)
    return ref


def test_push_then_pull_round_trips_with_same_image_id(lamina: Lamina, pushed, tmp_path):
    image_id = lamina.out("images", "-q", "--no-trunc", pushed).strip()
    other = Lamina(tmp_path / "other")
    out = other.out("pull", pushed)
    assert "Pull complete" in out and "Status: Downloaded newer image for" in out
    assert other.out("images", "-q", "--no-trunc", pushed).strip() == image_id
    digest = [line for line in out.splitlines() if line.startswith("Digest: ")][0].split()[1]
    [document] = json.loads(other.out("inspect", pushed))
    assert document["RepoDigests"] == [pushed.rsplit(":", 1)[0] + "@" + digest]
    again = other.out("pull", pushed)
    assert "Status: Image is up to date" in again
    by_digest = pushed.rsplit(":", 1)[0] + "@" + digest
    assert other.out("images", "-q", "--no-trunc").strip() == image_id
    assert Lamina(tmp_path / "third").out("pull", "-q", by_digest).strip().endswith(digest)
    assert "0 problems, clean" in other.out("fsck")


def test_second_push_skips_and_other_repository_mounts(lamina: Lamina, pushed, anon_registry):
    again = lamina.out("push", pushed)
    assert "Layer already exists" in again
    assert f"{pushed.split(':')[-1]}: digest: sha256:" in again
    moved = f"{anon_registry.host}/elsewhere/bb:1"
    lamina.run("tag", pushed, moved)
    out = lamina.out("push", moved)
    assert "Mounted from pp/bb" in out


def test_push_of_missing_image_fails_cleanly(lamina: Lamina, anon_registry):
    stderr = lamina.fails("push", f"{anon_registry.host}/nothing/here:1")
    assert "does not exist locally" in stderr


def test_pull_of_unknown_repository_says_what_docker_says(lamina: Lamina, anon_registry, docker):
    lamina.out("images")  # the store exists before
    before = store_listing(lamina.root)
    ref = f"{anon_registry.host}/no/such:1"
    stderr = lamina.fails("pull", ref)
    theirs = docker.run("pull", ref, check=False)  # dockerd pulls from a loopback registry over plain HTTP
    assert theirs.returncode == 1
    docker_line = theirs.stderr.decode().strip().removeprefix("Error response from daemon: ")
    assert stderr.splitlines()[-1] == f"lamina: error: {docker_line}"
    assert store_listing(lamina.root) == before


def test_pull_survives_dropped_connections_and_5xx(lamina: Lamina, pushed, fault_proxy, tmp_path):
    name = pushed.replace(pushed.split("/")[0], fault_proxy.host)
    fault_proxy.add(Fault("GET", "/blobs/", "drop_response", after_bytes=300_000))
    fault_proxy.add(Fault("GET", "/manifests/", "status", status=503))
    store = Lamina(tmp_path / "faulty")
    store.out("pull", name)
    assert "0 problems, clean" in store.out("fsck")


def test_tampered_blob_is_rejected_and_nothing_kept(pushed, fault_proxy, tmp_path, busybox_tar):
    name = pushed.replace(pushed.split("/")[0], fault_proxy.host)
    store = Lamina(tmp_path / "tampered")
    store.out("import", str(busybox_tar), "existing:1", "-c", "ENV KEEP=1")
    before = store_listing(store.root)
    fault_proxy.add(Fault("GET", "/blobs/sha256:", "tamper", times=20))
    stderr = store.fails("pull", name)
    assert "sha256:" in stderr
    assert store_listing(store.root) == before


def test_lamina_push_is_pulled_and_run_by_docker(pushed, docker):
    docker.run("pull", pushed)
    assert docker.out("run", "--rm", "--network", "none", pushed) == "pulled and running\n"
    docker.run("rmi", pushed)


def test_docker_push_is_pulled_by_lamina(lamina: Lamina, busybox_tar, docker, anon_registry):
    ref = f"{anon_registry.host}/fromdocker/bb:1"
    docker.run("import", "-c", "ENV MADE_BY=docker", str(busybox_tar), ref)
    docker.run("push", ref)
    docker_id = docker.out("image", "inspect", "-f", "{{.Id}}", ref).strip()
    lamina.out("pull", ref)
    assert lamina.out("images", "-q", "--no-trunc", ref).strip() == docker_id
    [document] = json.loads(lamina.out("inspect", ref))
    assert "MADE_BY=docker" in document["Config"]["Env"]
    assert document["Size"] == int(docker.out("image", "inspect", "-f", "{{.Size}}", ref))  # files, not the tar
    docker.run("rmi", ref)


def test_login_stores_credentials_where_docker_reads_them(lamina: Lamina, busybox_tar, basic_registry, tmp_path,
                                                         docker):
    config_dir = tmp_path / "docker-config"
    env = {**lamina.env(), "DOCKER_CONFIG": str(config_dir)}

    def run(*args, input=None):
        return subprocess.run([sys.executable, "-m", "lamina", *args], input=input, capture_output=True, env=env)

    bad = run("login", "-u", USER, "--password-stdin", basic_registry.host, input=b"wrong\n")
    assert bad.returncode != 0 and "\nlamina: error: " in "\n" + bad.stderr.decode()  # after the TLS warning
    assert PASSWORD.encode() not in bad.stderr and b"wrong" not in bad.stderr
    good = run("login", "-u", USER, "--password-stdin", basic_registry.host, input=PASSWORD.encode() + b"\n")
    assert good.returncode == 0 and b"Login Succeeded" in good.stdout, good.stderr
    config_file = config_dir / "config.json"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert basic_registry.host in json.loads(config_file.read_text())["auths"]
    ref = f"{basic_registry.host}/private/bb:1"
    lamina.out("import", str(busybox_tar), ref)
    pushed = run("push", ref)
    assert pushed.returncode == 0, pushed.stderr
    # docker uses the same config.json
    result = subprocess.run([docker.client, "-H", f"unix://{docker.socket}", "--config", str(config_dir), "pull", ref],
                            capture_output=True)
    assert result.returncode == 0, result.stderr
    docker.run("rmi", ref)
    assert b"Removing login credentials" in run("logout", basic_registry.host).stdout
    denied = run("pull", ref)
    assert denied.returncode != 0 and b"Traceback" not in denied.stderr


def test_pull_chooses_this_platform_from_an_index(lamina: Lamina, pushed, anon_registry, busybox_tar, tmp_path):
    repository = pushed.split("/", 1)[1].rsplit(":", 1)[0]
    other_ref = f"{anon_registry.host}/{repository}:s390x-variant"
    lamina.out("import", str(busybox_tar), other_ref, "-c", "ENV ARCH=s390x")
    lamina.out("push", other_ref)
    with RegistryClient(anon_registry.host, config=RegistryConfig()) as client:
        native = client.get_manifest(repository, pushed.rsplit(":", 1)[1])
        foreign = client.get_manifest(repository, "s390x-variant")
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": foreign.media_type, "digest": foreign.digest, "size": len(foreign.data),
                 "platform": {"os": "linux", "architecture": "s390x"}},
                {"mediaType": native.media_type, "digest": native.digest, "size": len(native.data),
                 "platform": {"os": "linux", "architecture": "amd64"}},
            ],
        }
        client.put_manifest(repository, "multi", encode(index), index["mediaType"])
    store = Lamina(tmp_path / "multi")
    name = f"{anon_registry.host}/{repository}:multi"
    assert "Status: Downloaded newer image" in store.out("pull", name)
    assert store.out("images", "-q", "--no-trunc", name).strip() == lamina.out("images", "-q", "--no-trunc", pushed).strip()
    store.out("pull", "--platform", "linux/s390x", name)
    assert "ARCH=s390x" in store.out("inspect", "-f", "{{json .Config.Env}}", name)
    stderr = store.fails("pull", "--platform", "linux/riscv64", name)
    assert "no matching manifest" in stderr
    # both platforms are in the store now: a push sends the multi-platform image whole
    copy = f"{anon_registry.host}/multicopy/bb:multi"
    store.out("tag", name, copy)
    store.out("pull", "--platform", "linux/s390x", name)  # re-point the tag at the index again
    store.out("tag", name, copy)
    store.out("push", copy)
    with RegistryClient(anon_registry.host, config=RegistryConfig()) as client:
        pushed = client.get_manifest("multicopy/bb", "multi")
    assert pushed.media_type == index["mediaType"] and pushed.data == encode(index)


def test_search_lists_catalog_matches(lamina: Lamina, pushed, anon_registry):
    out = lamina.out("search", f"{anon_registry.host}/pp")
    assert f"{anon_registry.host}/pp/bb" in out.split()
    assert lamina.out("search", "--format", "{{.Name}}", "--registry", anon_registry.host, "pp/b").strip() == \
        f"{anon_registry.host}/pp/bb"


def test_manifest_inspect_prints_the_raw_manifest(lamina: Lamina, pushed):
    document = json.loads(lamina.out("manifest", "inspect", pushed))
    assert document["schemaVersion"] == 2 and len(document["layers"]) == 1


def test_copy_between_repositories(lamina: Lamina, pushed, anon_registry, tmp_path):
    target = f"{anon_registry.host}/copied/bb:1"
    out = lamina.out("copy", pushed, target)
    assert "digest: sha256:" in out
    store = Lamina(tmp_path / "copied")
    store.out("pull", target)
    assert store.out("images", "-q", "--no-trunc").strip() == lamina.out("images", "-q", "--no-trunc", pushed).strip()


def test_copy_within_a_registry_that_refuses_the_mount_uploads(lamina: Lamina, pushed, anon_registry, fault_proxy,
                                                               tmp_path):
    # The registry answers the mount with 202 (as registries without cross-repository mounts do):
    # the blob is fetched from the source and uploaded in the session that answer opened.
    source = pushed.replace(anon_registry.host, fault_proxy.host)
    target = f"{fault_proxy.host}/copied/refused:{os.urandom(3).hex()}"
    fault_proxy.add(Fault("POST", "mount=", "strip_query", times=10))
    out = lamina.out("copy", source, target)
    assert "Pushed" in out and "digest: sha256:" in out
    assert [r.fault for r in fault_proxy.requests("POST")] == ["strip_query", "strip_query"]  # layer, config
    store = Lamina(tmp_path / "refused")
    store.out("pull", target)
    assert store.out("images", "-q", "--no-trunc").strip() == lamina.out("images", "-q", "--no-trunc", pushed).strip()


def test_copy_of_a_tampered_blob_fails_naming_it_and_pushes_no_manifest(lamina: Lamina, pushed, anon_registry,
                                                                        fault_proxy):
    source = pushed.replace(anon_registry.host, fault_proxy.host)  # another host: no mount, a real download
    target = f"{anon_registry.host}/copied/tampered:{os.urandom(3).hex()}"
    fault_proxy.add(Fault("GET", "/blobs/sha256:", "tamper", times=20))
    stderr = lamina.fails("copy", source, target)
    assert "does not match its digest" in stderr and "sha256:" in stderr
    with RegistryClient(anon_registry.host, config=RegistryConfig()) as client:
        assert client.head_manifest("copied/tampered", target.rsplit(":", 1)[1]) is None
    assert not list((lamina.root / "ingest").iterdir())
