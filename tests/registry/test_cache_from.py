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
