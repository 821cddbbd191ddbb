"""``build --cache-from``: a fresh store reuses the steps of an image pulled from a registry."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Lamina

pytestmark = pytest.mark.registry

DOCKERFILE = """FROM busybox
ENV APP=demo
WORKDIR /app
COPY data.txt .
RUN echo built > /app/built.txt
CMD ["cat", "/app/built.txt"]
"""


def test_a_fresh_store_hits_the_cache_of_a_pulled_image(lamina: Lamina, imported_busybox, anon_registry,
                                                        tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "data.txt").write_text("payload\n")
    ref = f"{anon_registry.host}/cachefrom/app:1"
    built = lamina.run("build", "--build-arg", "BUILDKIT_INLINE_CACHE=1", "--cache-to", "type=inline",
                       "-t", ref, str(context))
    assert b"not consumed" not in built.stderr  # a builder argument, never "unused"
    lamina.out("push", ref)
    base_archive = tmp_path / "base.tar"
    lamina.run("save", "-o", str(base_archive), "busybox")

    fresh = Lamina(tmp_path / "fresh")
    fresh.out("load", "-i", str(base_archive))  # the same base image, as on another machine
    out = fresh.out("build", "--cache-from", f"type=registry,ref={ref}", "-t", "rebuilt:1", str(context))
    assert out.count("Using cache") == 5, out
    assert "Running in" not in out
    original = json.loads(lamina.out("inspect", ref))[0]
    rebuilt = json.loads(fresh.out("inspect", "rebuilt:1"))[0]
    assert rebuilt["RootFS"] == original["RootFS"]
    assert rebuilt["Config"]["Cmd"] == ["cat", "/app/built.txt"]
    assert fresh.out("run", "--rm", "--network", "none", "rebuilt:1") == "built\n"


def test_a_changed_step_stops_using_the_cache_source(lamina: Lamina, imported_busybox, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "data.txt").write_text("payload\n")
    lamina.out("build", "-t", "source:1", str(context))
    archive = tmp_path / "all.tar"
    lamina.run("save", "-o", str(archive), "busybox", "source:1")
    fresh = Lamina(tmp_path / "fresh")
    fresh.out("load", "-i", str(archive))
    (context / "data.txt").write_text("another payload\n")
    out = fresh.out("build", "--cache-from", "source:1", "-t", "changed:1", str(context))
    assert out.count("Using cache") == 2  # ENV and WORKDIR; COPY changed, so RUN runs again
    assert "Running in" in out
    assert fresh.out("run", "--rm", "--network", "none", "changed:1", "cat", "/app/data.txt") == "another payload\n"


def test_a_local_hit_off_the_sources_chain_does_not_count(lamina: Lamina, imported_busybox, tmp_path):
    """moby's image cache with --cache-from (image/cache/cache.go: a local hit is taken only when
    it lies on a source image's own chain): an unrelated local build that shares the first steps
    must not win, or the later steps miss the source and run again."""
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "data.txt").write_text("payload\n")
    elsewhere = Lamina(tmp_path / "elsewhere")  # the source is built on another machine
    archive = tmp_path / "busybox.tar"
    lamina.run("save", "-o", str(archive), "busybox")
    elsewhere.out("load", "-i", str(archive))
    elsewhere.out("build", "-t", "source:1", str(context))
    source_archive = tmp_path / "source.tar"
    elsewhere.run("save", "-o", str(source_archive), "source:1")
    source_id = elsewhere.out("inspect", "-f", "{{.Id}}", "source:1").strip()

    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    (unrelated / "Dockerfile").write_text("FROM busybox\nENV APP=demo\nWORKDIR /app\nLABEL other=1\n")
    lamina.out("build", "-t", "unrelated:1", str(unrelated))  # local cache rows for the first steps
    lamina.out("load", "-i", str(source_archive))
    before = set(lamina.out("images", "-q", "--no-trunc").split())

    out = lamina.out("build", "--cache-from", "source:1", "-t", "rebuilt:1", str(context))
    assert out.count("Using cache") == 5, out
    assert "Running in" not in out
    assert lamina.out("inspect", "-f", "{{.Id}}", "rebuilt:1").strip() == source_id
    after = set(lamina.out("images", "-q", "--no-trunc").split())
    assert after == before, "the build left images of its own in `images`"
    assert "<none>" not in lamina.out("images")
