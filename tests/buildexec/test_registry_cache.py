"""``--cache-to/--cache-from type=registry|local``: host A's build cache used by host B.

Two stores on this machine play the two hosts and one loopback docker-registry (behind the
FaultProxy, which logs every request) the registry they share. skopeo, a real peer, reads the
cache artifact (it must be a valid OCI manifest whose blobs are all there).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Lamina, require_tool
from tests.registry.servers import Fault, FaultProxy, RegistryServer

pytestmark = pytest.mark.registry

DOCKERFILE = """FROM {base}
ENV APP=demo
WORKDIR /app
COPY data.txt .
RUN echo built > /app/built.txt && cat /app/data.txt >> /app/built.txt
CMD ["cat", "/app/built.txt"]
"""
STEPS = 5  # after FROM


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    if not Path("/usr/bin/docker-registry").exists():
        pytest.fail("docker-registry is not installed: run 'make test' as root (it installs Debian's docker-registry)")
    server = RegistryServer(tmp_path_factory.mktemp("cache-registry")).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(registry.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def host_a(lamina: Lamina, imported_busybox: str, proxy: FaultProxy, tmp_path: Path) -> tuple[Lamina, str, Path]:
    """Store A with busybox pushed as the project's base, and the project's context."""
    base = f"127.0.0.1:{proxy.port}/base/busybox:1"
    lamina.out("tag", "busybox", base)
    lamina.out("push", base)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=base))
    (context / "data.txt").write_text("payload\n")
    return lamina, base, context


def skopeo_raw(location: str) -> dict:
    require_tool("skopeo", "apt-get install skopeo")
    out = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", location],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def registry_manifest(reference: str) -> dict:
    """The manifest a tag serves, by a plain HTTP GET (skopeo 1.x asks without the OCI type)."""
    import httpx

    host, _, rest = reference.partition("/")
    repository, _, tag = rest.rpartition(":")
    response = httpx.get(f"http://{host}/v2/{repository}/manifests/{tag}",
                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def blob_gets(proxy: FaultProxy, repository: str) -> set[str]:
    return {re.sub(r"\?.*", "", r.path).rsplit("/", 1)[-1]
            for r in proxy.requests("GET", f"/v2/{repository}/blobs/sha256:")}


def test_host_b_builds_warm_from_host_a_registry_cache(host_a, proxy: FaultProxy, tmp_path: Path):
    lamina, base, context = host_a
    cache = f"127.0.0.1:{proxy.port}/cache/app:buildcache"
    lamina.out("build", "--cache-to", f"type=registry,ref={cache}", "-t", "app:1", str(context))
    manifest = registry_manifest(cache)
    assert manifest["artifactType"] == "application/vnd.lamina.buildcache.v1"
    image_id = lamina.out("inspect", "-f", "{{.Id}}", "app:1").strip()
    base_layers = json.loads(lamina.out("inspect", base))[0]["RootFS"]["Layers"]
    app_layers = json.loads(lamina.out("inspect", "app:1"))[0]["RootFS"]["Layers"]
    new_layers = len(app_layers) - len(base_layers)
    assert len(manifest["layers"]) == new_layers  # WORKDIR, COPY, RUN

    proxy.reset()
    host_b = Lamina(tmp_path / "host-b")  # an empty store
    out = host_b.out("build", "--cache-from", f"type=registry,ref={cache}", "-t", "app:1", str(context))
    assert out.count("Using cache") == STEPS, out
    assert "Running in" not in out
    assert host_b.out("inspect", "-f", "{{.Id}}", "app:1").strip() == image_id  # the same image
    # bytes moved: the cache's config and the layers the steps added, each once, nothing else
    fetched = blob_gets(proxy, "cache/app")
    assert fetched == {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}
    assert len(proxy.requests("GET", "/v2/cache/app/blobs/")) == len(fetched)
    assert host_b.out("run", "--rm", "--network", "none", "app:1") == "built\npayload\n"

    (context / "data.txt").write_text("changed\n")
    out = host_b.out("build", "--cache-from", f"type=registry,ref={cache}", "-t", "app:2", str(context))
    assert out.count("Using cache") == 2, out  # ENV, WORKDIR; COPY changed, so RUN runs again
    assert host_b.out("run", "--rm", "--network", "none", "app:2") == "built\nchanged\n"


def test_a_local_cache_directory_round_trips(host_a, tmp_path: Path):
    lamina, _base, context = host_a
    directory = tmp_path / "cache-dir"
    lamina.out("build", "--cache-to", f"type=local,dest={directory}", "-t", "app:1", str(context))
    manifest = skopeo_raw(f"oci:{directory}:buildcache")
    assert manifest["config"]["mediaType"] == "application/vnd.lamina.buildcache.config.v1+json"
    host_b = Lamina(tmp_path / "host-b")
    out = host_b.out("build", "--cache-from", f"type=local,src={directory}", "-t", "app:1", str(context))
    assert out.count("Using cache") == STEPS, out
    assert host_b.out("inspect", "-f", "{{.Id}}", "app:1") == lamina.out("inspect", "-f", "{{.Id}}", "app:1")


def test_a_registry_failing_mid_export_keeps_the_previous_cache(host_a, proxy: FaultProxy, tmp_path: Path):
    lamina, _base, context = host_a
    cache = f"127.0.0.1:{proxy.port}/cache/fail:buildcache"
    lamina.out("build", "--cache-to", f"type=registry,ref={cache}", "-t", "app:1", str(context))
    before = registry_manifest(cache)
    (context / "data.txt").write_text("second\n")
    proxy.reset()
    proxy.add(Fault("*", "/v2/cache/fail/blobs/uploads/", "status", times=1000, status=503))
    lamina.fails("build", "--cache-to", f"type=registry,ref={cache}", "-t", "app:2", str(context))
    assert not proxy.requests("PUT", "/v2/cache/fail/manifests/")  # the manifest goes last: never sent
    proxy.reset()
    assert registry_manifest(cache) == before
    host_b = Lamina(tmp_path / "host-b")
    out = host_b.out("build", "--cache-from", f"type=registry,ref={cache}", "-t", "app:2", str(context))
    assert out.count("Using cache") == 2, out  # the old cache, whole: its first steps still hit


def test_bad_cache_specs_are_refused(lamina: Lamina, tmp_path: Path):
    for spec in ("type=s3,ref=x", "type=registry", "type=registry,ref=r/x,mode=all", "type=local"):
        message = lamina.run("build", "--cache-to", spec, str(tmp_path), check=False)
        assert message.returncode != 0 and b"--cache-to" in message.stderr, message.stderr


MULTISTAGE = """FROM {base} AS builder
RUN echo compiled > /out.txt
FROM {base}
COPY --from=builder /out.txt /out.txt
CMD ["cat", "/out.txt"]
"""


@pytest.mark.parametrize("mode", ["min", "max"])
def test_mode_max_carries_the_intermediate_stage(host_a, proxy: FaultProxy, tmp_path: Path, mode: str):
    lamina, base, context = host_a
    (context / "Dockerfile").write_text(MULTISTAGE.format(base=base))
    cache = f"127.0.0.1:{proxy.port}/cache/multi-{mode}:buildcache"
    lamina.out("build", "--cache-to", f"type=registry,ref={cache},mode={mode}", "-t", "multi:1", str(context))
    host_b = Lamina(tmp_path / "host-b")
    out = host_b.out("build", "--cache-from", f"type=registry,ref={cache}", "-t", "multi:1", str(context))
    # min: only the final stage's steps are in the cache, so the builder's RUN runs on host B
    assert ("Running in" in out) == (mode == "min"), out
    assert out.count("Using cache") == (2 if mode == "min" else 3), out
    assert host_b.out("run", "--rm", "--network", "none", "multi:1") == "compiled\n"


def test_two_hosts_exporting_at_once_leave_one_whole_cache(host_a, proxy: FaultProxy, tmp_path: Path):
    """The last complete write wins: the tag serves one of the two caches, every blob it names is
    there, and a third store builds that project with every step hit."""
    lamina, _base, context = host_a
    cache = f"127.0.0.1:{proxy.port}/cache/race:buildcache"
    other = tmp_path / "ctx-2"
    other.mkdir()
    (other / "Dockerfile").write_text((context / "Dockerfile").read_text())
    (other / "data.txt").write_text("other host\n")
    host_b = Lamina(tmp_path / "host-b")
    runs = [subprocess.Popen([sys.executable, "-m", "lamina", "build", "--cache-to", f"type=registry,ref={cache}", "-t", "app:1",
                              str(ctx)], env=store.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for store, ctx in ((lamina, context), (host_b, other))]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    manifest = registry_manifest(cache)
    import httpx

    for descriptor in [manifest["config"], *manifest["layers"]]:
        head = httpx.head(f"http://127.0.0.1:{proxy.port}/v2/cache/race/blobs/{descriptor['digest']}", timeout=30)
        assert head.status_code == 200 and int(head.headers["content-length"]) == descriptor["size"]
    host_c = Lamina(tmp_path / "host-c")
    results = [host_c.out("build", "--cache-from", f"type=registry,ref={cache}", "-t", f"app:{i}", str(ctx))
               for i, ctx in enumerate((context, other))]
    assert sorted(out.count("Using cache") for out in results) == [2, STEPS], results  # one whole cache won


UNUSED_STAGE = """FROM {base} AS unused
RUN head -c 300000 /dev/urandom > /big.bin
FROM {base}
RUN echo final > /final.txt
"""


def test_hits_fetch_only_the_layers_the_result_needs(host_a, proxy: FaultProxy, tmp_path: Path):
    """The classic builder builds every stage; a stage that only hits and that nothing copies
    from is never downloaded (hits are lazy), the final image's layers are."""
    lamina, base, context = host_a
    (context / "Dockerfile").write_text(UNUSED_STAGE.format(base=base))
    cache = f"127.0.0.1:{proxy.port}/cache/lazy:buildcache"
    lamina.out("build", "--builder", "classic", "--cache-to", f"type=registry,ref={cache},mode=max",
               "-t", "lazy:1", str(context))
    manifest = registry_manifest(cache)
    assert len(manifest["layers"]) == 2
    final_layer = json.loads(lamina.out("inspect", "lazy:1"))[0]["RootFS"]["Layers"][-1]
    host_b = Lamina(tmp_path / "host-b")
    host_b.out("pull", base)
    proxy.reset()
    out = host_b.out("build", "--builder", "classic", "--cache-from", f"type=registry,ref={cache}",
                     "-t", "lazy:1", str(context))
    assert out.count("Using cache") == 2, out
    fetched = blob_gets(proxy, "cache/lazy") - {manifest["config"]["digest"]}
    assert len(fetched) == 1, fetched  # the final stage's layer only
    assert json.loads(host_b.out("inspect", "lazy:1"))[0]["RootFS"]["Layers"][-1] == final_layer
    assert host_b.out("run", "--rm", "--network", "none", "lazy:1", "cat", "/final.txt") == "final\n"
