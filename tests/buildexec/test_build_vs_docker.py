"""``lamina build`` against ``DOCKER_BUILDKIT=0 docker build`` on the same base image.

Both builders start from one base (made by ``docker import``, moved to lamina with ``docker
save | lamina load``, so the base image ID is the same); lamina's result goes back to docker
with ``lamina save | docker load`` and both are compared as docker shows them: config, author,
history text (digests masked), layer count, and the exported file tree.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.buildexec.oracle import differences, load_into_docker, observe
from tests.conftest import Docker, Lamina

pytestmark = [pytest.mark.slow, pytest.mark.docker]

BASE = "lx-base/busybox:1"

MAIN = """FROM lx-base/busybox:1
ARG VERSION=1.0
ENV APP=/app PATH=/usr/local/bin:$PATH
LABEL version=$VERSION maintainer.name="x y"
MAINTAINER someone <a@b.c>
EXPOSE 80 443/udp 8000-8002
VOLUME ["/data", "/cache"]
USER app
WORKDIR $APP/sub
WORKDIR /bin
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
ONBUILD ENV X=1
COPY *.txt /texts/
COPY a.txt b
COPY dir /copied
COPY dir/ ./rel/
COPY --chown=app:app dir /owned/deep/
COPY --chown=1234:5678 a.txt /owned/file/
COPY --chown=app a.txt /named
COPY modes /modes
ADD archive.tar.gz /unpacked/
ADD archive.tar.gz /existing
COPY archive.tar.gz /notunpacked/
ADD notatar.tar /
COPY a.txt /linkdir/
COPY b.txt /filelink
COPY . /everything
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
"""

STAGES = """ARG BASE=lx-base/busybox:1
FROM $BASE AS builder
ARG WHO
ENV WHO=${WHO:-nobody}
COPY a.txt /out/a
WORKDIR /out
FROM builder AS middle
COPY b.txt /out/b
FROM lx-base/busybox:1
COPY --from=middle /out /from-middle
COPY --from=0 /out/a /from-index
COPY --from=lx-base/busybox:1 /bin/busybox /bb
COPY --from=lx-base/busybox:1 /realdir /realcopy
"""

PARENT = """FROM lx-base/busybox:1
ONBUILD COPY a.txt /onbuild/
ONBUILD WORKDIR /onbuild
ONBUILD ENV TRIGGERED=yes
CMD ["sh"]
"""


@pytest.fixture(scope="module")
def base_archive(docker: Docker, busybox_rootfs: Path, tmp_path_factory) -> Path:
    """The shared base: busybox plus users, a symlinked directory and file, an owned directory."""
    root = tmp_path_factory.mktemp("lx") / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1000:\n")
    (root / "realdir").mkdir(mode=0o750)
    (root / "realdir" / "target").write_text("old target\n")
    os.chown(root / "realdir", 1000, 1000)
    (root / "linkdir").symlink_to("/realdir")
    (root / "filelink").symlink_to("/realdir/target")
    (root / "existing").mkdir()
    os.chown(root / "existing", 1234, 1234)
    tar = subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."], check=True,
                         capture_output=True).stdout
    docker.run("import", "-", BASE, input=tar)
    archive = root.parent / "base.tar"
    docker.run("save", "-o", str(archive), BASE)
    return archive


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    """A build context with the file kinds COPY/ADD treat differently."""
    ctx = tmp_path_factory.mktemp("lx-context")
    (ctx / "a.txt").write_text("a\n")
    (ctx / "b.txt").write_text("b\n")
    (ctx / "README.md").write_text("ignored\n")
    (ctx / "ignoredfile").write_text("ignored\n")
    (ctx / "secret").mkdir()
    (ctx / "secret" / "x").write_text("ignored\n")
    (ctx / "secret" / "keep").write_text("kept\n")
    (ctx / "dir" / "sub").mkdir(parents=True)
    (ctx / "dir" / "f").write_text("f\n")
    (ctx / "dir" / "sub" / "g").write_text("g\n")
    (ctx / "dir" / "link").symlink_to("f")
    os.chmod(ctx / "dir", 0o700)
    os.chmod(ctx / "dir" / "sub", 0o2750)
    modes = ctx / "modes"
    modes.mkdir()
    for name, mode in (("private", 0o600), ("exec", 0o755), ("ro", 0o444), ("suid", 0o4755)):
        (modes / name).write_text(name)
        os.chmod(modes / name, mode)
    (modes / "sticky").mkdir()
    os.chmod(modes / "sticky", 0o1777)
    os.chown(modes / "private", 4242, 4242)
    (ctx / "archive.tar.gz").write_bytes(_archive())
    (ctx / "notatar.tar").write_text("not a tar\n")
    (ctx / ".dockerignore").write_text("*.md\nsecret/\n!secret/keep\nignored*\n")
    for name, text in (("Dockerfile", MAIN), ("stages.Dockerfile", STAGES), ("parent.Dockerfile", PARENT),
                       ("child.Dockerfile", "FROM lx/parent\nLABEL child=1\n"),
                       ("grandchild.Dockerfile", "FROM lx/child\nLABEL grandchild=1\n")):
        (ctx / name).write_text(text)
    return ctx


def _archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, mode, uid in (("top", tarfile.DIRTYPE, 0o700, 1234), ("top/file", tarfile.REGTYPE, 0o640, 1234),
                                      ("loose/deep/file", tarfile.REGTYPE, 0o600, 7)):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid = kind, mode, uid, uid + 1
            data = name.encode() if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


class Builders:
    """Builds one Dockerfile with docker's classic builder and with lamina, and observes both."""

    def __init__(self, docker: Docker, lamina: Lamina, context: Path, work: Path):
        self.docker, self.lamina, self.context, self.work = docker, lamina, context, work

    def build(self, name: str, dockerfile: str, *args: str) -> tuple[dict, dict, str, str]:
        """(docker's view, lamina's view, docker's output, lamina's output)."""
        command = ("build", "--no-cache", "--network", "none", "-t", f"lx-oracle/{name}",
                   "-f", str(self.context / dockerfile), *args, str(self.context))
        oracle = self.docker.run(*command, check=False)
        if oracle.returncode != 0:  # dockerd on this busy machine sometimes loses a layer mid-build
            oracle = self.docker.run(*command)
        subject = self.lamina.run("build", "--no-cache", "-t", f"lx-subject/{name}",
                                  "-f", str(self.context / dockerfile), *args, str(self.context))
        archive = self.work / f"{name}.tar"
        self.lamina.run("save", "-o", str(archive), f"lx-subject/{name}")
        loaded = load_into_docker(self.docker, archive)
        return (observe(self.docker, f"lx-oracle/{name}"), observe(self.docker, loaded),
                oracle.stdout.decode() + oracle.stderr.decode(), subject.stdout.decode() + subject.stderr.decode())

    def tag_both(self, name: str, target: str) -> None:
        self.docker.run("tag", f"lx-oracle/{name}", target)
        self.lamina.run("tag", f"lx-subject/{name}", target)


@pytest.fixture(scope="module")
def builders(docker: Docker, base_archive: Path, context: Path, tmp_path_factory) -> Builders:
    lamina = Lamina(tmp_path_factory.mktemp("lx-store") / "store", {"DOCKER_BUILDKIT": "0"})  # as the oracle
    lamina.out("load", "-i", str(base_archive))
    return Builders(docker, lamina, context, tmp_path_factory.mktemp("lx-out"))


def test_metadata_copy_and_add_match_docker(builders: Builders) -> None:
    expected, got, _, output = builders.build("main", "Dockerfile")
    assert differences(expected, got) == [], "\n".join(differences(expected, got))
    assert 'Step 31/31 : CMD ["hello"]' in output and "Successfully tagged lx-subject/main:latest" in output


def test_multistage_copy_from_and_build_args_match_docker(builders: Builders) -> None:
    expected, got, oracle_out, output = builders.build("stages", "stages.Dockerfile", "--build-arg", "WHO=me",
                                                       "--build-arg", "UNUSED=1")
    assert differences(expected, got) == [], "\n".join(differences(expected, got))
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in oracle_out
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in output


def test_target_stage_matches_docker(builders: Builders) -> None:
    expected, got, _, output = builders.build("target", "stages.Dockerfile", "--target", "builder")
    assert differences(expected, got) == [], "\n".join(differences(expected, got))
    assert got["config"]["WorkingDir"] == "/out"
    assert "Step 6/6 : WORKDIR /out" in output  # only the stages the target needs


def test_onbuild_triggers_run_in_the_child_only(builders: Builders) -> None:
    builders.build("parent", "parent.Dockerfile")
    builders.tag_both("parent", "lx/parent")
    expected, got, oracle_out, output = builders.build("child", "child.Dockerfile")
    assert differences(expected, got) == [], "\n".join(differences(expected, got))
    assert "# Executing 3 build triggers" in oracle_out and "# Executing 3 build triggers" in output
    builders.tag_both("child", "lx/child")
    expected, got, _, output = builders.build("grandchild", "grandchild.Dockerfile")
    assert differences(expected, got) == [], "\n".join(differences(expected, got))
    assert "Executing" not in output


def test_layer_sizes_in_history_and_images_match_docker(builders: Builders) -> None:
    """Sizes count the files a layer adds (as docker's graph driver does), not its tar."""
    builders.build("main", "Dockerfile")
    sizes = "RUN echo hi > /x && mkdir -p /d && head -c 100000 /dev/zero > /d/z && ln -s /x /d/link\n"
    (builders.context / "sizes.Dockerfile").write_text(
        f"FROM {BASE}\n{sizes}COPY dir /copied\nRUN rm /x\nCOPY a.txt b.txt /two/\n")
    builders.build("sizes", "sizes.Dockerfile")

    def history(tool, name: str) -> list[str]:
        return tool.out("history", "-H=false", "--format", "{{.Size}}", name).split()

    for name in ("main", "sizes"):
        assert history(builders.lamina, f"lx-subject/{name}") == history(builders.docker, f"lx-oracle/{name}")
        ours = builders.lamina.out("image", "inspect", "-f", "{{.Size}}", f"lx-subject/{name}")
        theirs = builders.docker.out("image", "inspect", "-f", "{{.Size}}", f"lx-oracle/{name}")
        assert ours == theirs
