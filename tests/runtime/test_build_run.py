"""``lamina build`` with RUN steps, against docker's classic builder on the same base image.

Both builders start from one busybox image (imported into docker, ``docker save | lamina
load``); the results are compared as docker sees them: config, history shape, layer count and
the file tree of ``docker export``. RUN --mount has no classic-builder oracle: those tests
state BuildKit's documented behaviour.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.conftest import Docker, Lamina

pytestmark = [pytest.mark.slow, pytest.mark.docker]

BASE = "rt-base/busybox:1"
# What docker create/export adds that is not image content (the acceptance suite's allow-list).
NOT_CONTENT = {".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab", "dev", "proc", "sys"}

DOCKERFILE = """FROM rt-base/busybox:1
ARG A=1
ARG B
ENV E=e
RUN echo hi > /x && mkdir -p /d/sub && echo a > /d/sub/a && echo b > /d/b && ln -s /d/b /link
RUN rm /x && rm -rf /d/sub && echo c > /d/b && echo $A$B$E > /args
RUN true
RUN ["/bin/sh", "-c", "echo exec > /exec"]
RUN rm -rf /d && mkdir /d && echo new > /d/new && chmod 0700 /d && chown 65534:65534 /d/new
WORKDIR /workdir
RUN pwd > pwd && env | grep -v -e HOSTNAME -e PWD -e SHLVL | sort > /workdir/env
RUN mkdir /vol && echo keep > /vol/keep
VOLUME /vol /newvol
RUN echo lost > /vol/lost && cat /vol/keep > /kept
USER nobody
RUN id > /dev/null
"""


@pytest.fixture(scope="module")
def shared_base(docker: Docker, busybox_tar: Path, tmp_path_factory) -> Path:
    """The base image in docker, and its ``docker save`` archive for lamina."""
    docker.run("import", "-c", 'CMD ["sh"]', str(busybox_tar), BASE)
    archive = tmp_path_factory.mktemp("rt-base") / "base.tar"
    docker.run("save", "-o", str(archive), BASE)
    return archive


@pytest.fixture
def lamina_with_base(lamina: Lamina, shared_base: Path) -> Lamina:
    lamina.run("load", "-i", str(shared_base))
    return lamina


def _context(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (context / name).write_text(text)
    return context


def _docker_build(docker: Docker, context: Path, tag: str) -> None:
    """The oracle build. dockerd 20.10 here now and then starts a step on an empty rootfs
    ("stat /bin/sh: no such file or directory", also with no lamina running): retried."""
    for _ in range(3):
        result = docker.run("build", "--no-cache", "--force-rm", "--network", "none", "-t", tag, str(context),
                            check=False)
        if result.returncode == 0:
            return
        if b"no such file or directory" not in result.stderr:
            break
    raise AssertionError(f"docker build failed: {result.stderr.decode()}")


def _to_docker(lamina: Lamina, docker: Docker, tag: str, tmp_path: Path) -> None:
    archive = tmp_path / "lamina-image.tar"
    lamina.run("save", "-o", str(archive), tag)
    docker.run("load", "-i", str(archive))


def _exported_tree(docker: Docker, tag: str) -> dict[str, tuple]:
    data = docker.export_image(tag)
    tree = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            name = member.name.rstrip("/")
            if name in NOT_CONTENT or name.startswith("dev/"):
                continue
            content = ""
            if member.isfile():
                content = hashlib.sha256(archive.extractfile(member).read()).hexdigest()
            tree[name] = (member.type, member.mode, member.uid, member.gid, member.linkname, content)
    return tree


def _inspect(docker: Docker, tag: str) -> dict:
    return json.loads(docker.out("image", "inspect", tag))[0]


def _history(docker: Docker, tag: str) -> list[tuple[str, bool]]:
    lines = docker.out("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", tag).splitlines()
    return [(line.rsplit("|", 1)[0], line.rsplit("|", 1)[1] == "0B") for line in lines]


def test_run_steps_build_what_dockers_classic_builder_builds(lamina_with_base: Lamina, docker: Docker,
                                                             tmp_path: Path):
    context = _context(tmp_path, DOCKERFILE)
    _docker_build(docker, context, "rt-oracle/run:1")
    lamina_with_base.run("build", "--builder", "classic", "--no-cache", "--network", "none", "-t", "rt-subject/run:1",
                         str(context))  # the oracle is the classic builder (its VOLUME rule)
    _to_docker(lamina_with_base, docker, "rt-subject/run:1", tmp_path)

    theirs, mine = _inspect(docker, "rt-oracle/run:1"), _inspect(docker, "rt-subject/run:1")
    for key in ("Env", "Cmd", "Entrypoint", "WorkingDir", "User"):
        assert mine["Config"][key] == theirs["Config"][key], key
    assert len(mine["RootFS"]["Layers"]) == len(theirs["RootFS"]["Layers"])
    assert [entry for entry, _ in _history(docker, "rt-subject/run:1")] == [
        entry for entry, _ in _history(docker, "rt-oracle/run:1")]
    tree = _exported_tree(docker, "rt-subject/run:1")
    assert tree == _exported_tree(docker, "rt-oracle/run:1")
    # VOLUME: RUN writes below it are discarded, a new volume's mount point stays (classic builder).
    assert "newvol" in tree and "kept" in tree and "vol/lost" not in tree


def test_a_failing_run_stops_the_build_with_its_exit_code(lamina_with_base: Lamina, tmp_path: Path):
    context = _context(tmp_path, "FROM rt-base/busybox:1\nRUN echo before\nRUN echo doomed; exit 7\n")
    result = lamina_with_base.run("build", "-t", "rt-subject/fail:1", str(context), check=False)
    stderr = result.stderr.decode()
    assert result.returncode == 7
    assert "Dockerfile:3: The command '/bin/sh -c echo doomed; exit 7' returned a non-zero code: 7" in stderr
    assert "doomed" in result.stdout.decode()


def test_run_mounts_secret_cache_bind_and_tmpfs(lamina_with_base: Lamina, docker: Docker, tmp_path: Path):
    secret = tmp_path / "token.txt"
    secret.write_text("sup3r-s3cret-value")
    dockerfile = (
        "FROM rt-base/busybox:1\n"
        "RUN --mount=type=secret,id=token busybox md5sum < /run/secrets/token > /secret-md5\n"
        "RUN --mount=type=secret,id=token,env=TOKEN printf %s \"$TOKEN\" | busybox md5sum > /env-md5\n"
        "RUN --mount=type=cache,target=/var/cache/rt,id=rt-cache-test "
        "cat /var/cache/rt/count 2>/dev/null > /seen || true; echo run >> /var/cache/rt/count\n"
        "RUN --mount=type=bind,source=data.txt,target=/mnt/data cat /mnt/data > /copied\n"
        "RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && cat /scratch/t > /tmpfs-ok\n"
    )
    context = _context(tmp_path, dockerfile, {"data.txt": "from the context\n"})
    for _ in range(2):
        lamina_with_base.run("build", "--no-cache", "--network", "none", "--secret", f"id=token,src={secret}",
                             "-t", "rt-subject/mounts:1", str(context))
    _to_docker(lamina_with_base, docker, "rt-subject/mounts:1", tmp_path)
    run = ["run", "--rm", "--network", "none", "rt-subject/mounts:1", "cat"]
    digest = hashlib.md5(b"sup3r-s3cret-value").hexdigest() + "  -\n"
    assert docker.out(*run, "/secret-md5", "/env-md5") == digest * 2
    assert docker.out(*run, "/copied", "/tmpfs-ok", "/seen") == "from the context\nt\nrun\n"
    tree = _exported_tree(docker, "rt-subject/mounts:1")
    assert not {"run/secrets", "run/secrets/token", "mnt/data", "scratch", "var/cache/rt"} & set(tree)
    saved = lamina_with_base.run("save", "rt-subject/mounts:1").stdout
    assert b"sup3r-s3cret-value" not in saved


def test_heredocs_run_as_buildkit_hands_them_to_the_shell(lamina_with_base: Lamina, docker: Docker, tmp_path: Path):
    dockerfile = (
        "FROM rt-base/busybox:1\n"
        "ENV WHO=world\n"
        "RUN <<EOF\n"
        "echo \"hello $WHO\" > /simple\n"
        "echo second line >> /simple\n"
        "EOF\n"
        "RUN <<EOF\n"
        "#!/bin/sh\n"
        "echo \"from a script: $0\" > /shebang\n"
        "EOF\n"
        "RUN cat <<'EOT' > /complex && echo done >> /complex\n"
        "literal $WHO\n"
        "EOT\n"
    )
    lamina_with_base.run("build", "--network", "none", "-t", "rt-subject/heredoc:1", str(_context(tmp_path, dockerfile)))
    _to_docker(lamina_with_base, docker, "rt-subject/heredoc:1", tmp_path)
    out = docker.out("run", "--rm", "--network", "none", "rt-subject/heredoc:1", "cat", "/simple", "/shebang", "/complex")
    assert out == "hello world\nsecond line\nfrom a script: /dev/pipes/EOF\nliteral $WHO\ndone\n"
    assert "dev/pipes" not in "".join(_exported_tree(docker, "rt-subject/heredoc:1"))


def test_bind_mounts_from_a_stage_and_writable_binds_leave_no_trace(lamina_with_base: Lamina, docker: Docker,
                                                                   tmp_path: Path):
    dockerfile = (
        "FROM rt-base/busybox:1 AS source\n"
        "RUN mkdir /out && echo staged > /out/file\n"
        "FROM rt-base/busybox:1\n"
        "COPY --from=source /out/file /copied-file\n"
        "RUN --mount=type=bind,from=source,source=/out,target=/mnt/s cat /mnt/s/file > /from-stage\n"
        "RUN --mount=type=bind,target=/ctx,rw echo scribble > /ctx/data.txt && cat /ctx/data.txt > /rw-seen\n"
    )
    context = _context(tmp_path, dockerfile, {"data.txt": "original\n"})
    lamina_with_base.run("build", "--network", "none", "-t", "rt-subject/binds:1", str(context))
    assert (context / "data.txt").read_text() == "original\n"  # writes went to a throw-away copy
    _to_docker(lamina_with_base, docker, "rt-subject/binds:1", tmp_path)
    out = docker.out("run", "--rm", "--network", "none", "rt-subject/binds:1", "cat", "/from-stage", "/rw-seen")
    assert out == "staged\nscribble\n"
    assert not {"mnt", "mnt/s", "ctx"} & set(_exported_tree(docker, "rt-subject/binds:1"))


def test_run_flags_lamina_cannot_honour_are_errors_naming_the_line(lamina_with_base: Lamina, tmp_path: Path):
    context = _context(tmp_path, "FROM rt-base/busybox:1\nRUN --security=insecure true\n")
    assert "Dockerfile:2: RUN --security=insecure is not allowed" in lamina_with_base.fails("build", str(context))
