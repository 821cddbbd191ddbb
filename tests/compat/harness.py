"""Build one compat case with docker and with lamina, and say how the two images differ.

A case (see ``cases.py``) is a Dockerfile, the files of its build context, build flags, the
commands to run in the result and, for Dockerfiles docker refuses, what the failure must look
like. Both builders start from one base image (made by ``docker import``, moved to lamina with
``docker save`` + ``lamina load``, so its ID is the same on both sides); lamina's result goes
back with ``lamina save`` + ``docker load`` and both are compared as docker shows them (config,
history, layer count, exported file tree) and by running commands in them with ``docker run``.

Run by hand against a running dockerd: ``python -m tests.compat SOCKET_DIR [CASE-REGEX...]``
(SOCKET_DIR holds ``d.sock``); it prints the differences of each case.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.buildexec.oracle import differences, load_into_docker, observe
from tests.conftest import Docker, Lamina

BASE = "cx-base/busybox:1"
APPLETS = ("sh", "ls", "cat", "echo", "env", "id", "pwd", "true", "false", "wc", "sleep", "stat", "mkdir",
           "touch", "ln", "sort", "grep", "find", "chmod", "chown", "printf", "test", "head", "readlink")


@dataclasses.dataclass(frozen=True)
class File:
    """A context file with a mode, owner and xattrs (plain ``str``/``bytes`` values are 0644 root)."""

    content: str | bytes = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    xattrs: tuple[tuple[str, bytes], ...] = ()


@dataclasses.dataclass(frozen=True)
class Dir:
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclasses.dataclass(frozen=True)
class Link:
    target: str


@dataclasses.dataclass(frozen=True)
class Hard:
    """A hard link to ``target``, a context path listed earlier."""

    target: str


@dataclasses.dataclass(frozen=True)
class Fifo:
    mode: int = 0o644


@dataclasses.dataclass(frozen=True)
class Socket:
    """A unix socket (bound, then left behind): docker's client leaves it out of the context."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One Dockerfile built by both builders.

    ``fail``: docker must fail with a message matching ``docker_error`` (the classic builder's
    words, BuildKit's for ``buildkit`` cases), and lamina with one ``lamina: error:`` line matching
    ``fail`` (and naming ``Dockerfile:<error_line>`` when set); both are required. ``buildkit``: docker builds with BuildKit,
    whose history text differs, so only config, files and runs are compared."""

    name: str
    dockerfile: str
    files: dict = dataclasses.field(default_factory=dict)
    args: tuple[str, ...] = ()
    runs: tuple[tuple[str, ...], ...] = ()
    pre: tuple[tuple[str, str], ...] = ()
    fail: str | None = None
    error_line: int | None = None
    docker_error: str | None = None
    buildkit: bool = False
    served: dict = dataclasses.field(default_factory=dict)  # name -> bytes, at $URL/name over HTTP
    xattrs: bool = False  # also compare the xattrs of the exported trees
    fs_optional: tuple[str, ...] = ()  # dirs (fnmatch, no leading /) that may exist on one side only
    lamina_accepts: str = ""  # why lamina builds what docker 20.10 refuses (newer BuildKit syntax)
    expect: tuple[tuple[tuple[str, ...], str], ...] = ()  # lamina_accepts: (command, its stdout) pairs
    docker_builds_it: bool = False  # lamina_accepts: docker 20.10 builds it too, differently
    # "dockerfile": ``build -`` with the bare Dockerfile on stdin; "tar": the context as a tar on stdin;
    # "url-dockerfile", "url-tar": the same served over HTTP, the URL being the context
    stdin: str = ""


def make_base(docker: Docker, work: Path) -> Path:
    """The shared base image in docker, and its ``docker save`` archive for lamina."""
    root = work / "base-rootfs"
    if root.exists():
        shutil.rmtree(root)
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    busybox = shutil.which("busybox") or "/bin/busybox"
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
        "svc:x:1001:50:svc:/srv:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nstaff:x:50:svc\nnogroup:x:65534:\n")
    (root / "data").mkdir()
    os.chown(root / "data", 1000, 1000)
    (root / "data" / "old").write_text("old\n")
    (root / "linkdir").symlink_to("/data")
    tar = subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."], check=True,
                         capture_output=True).stdout
    docker.run("import", "-c", 'CMD ["sh"]', "-", BASE, input=tar)
    archive = work / "base.tar"
    docker.run("save", "-o", str(archive), BASE)
    return archive


def write_context(context: Path, files: dict) -> None:
    """Lay out a case's context; entries are made parents first, so modes set on dirs hold."""
    later: list[tuple[Path, object]] = []
    for name, spec in files.items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, Dir):
            path.mkdir(exist_ok=True)
            later.append((path, spec))
        elif isinstance(spec, Link):
            path.symlink_to(spec.target)
        elif isinstance(spec, Hard):
            os.link(context / spec.target, path)
        elif isinstance(spec, Fifo):
            os.mkfifo(path, spec.mode)
        elif isinstance(spec, Socket):
            import socket

            with socket.socket(socket.AF_UNIX) as bound:
                bound.bind(str(path))
        else:
            spec = spec if isinstance(spec, File) else File(spec)
            data = spec.content.encode("utf-8", "surrogateescape") if isinstance(spec.content, str) else spec.content
            path.write_bytes(data)
            later.append((path, spec))
    for path, spec in reversed(later):  # deepest last-listed first, so dir modes do not block writes
        os.chown(path, spec.uid, spec.gid)  # type: ignore[attr-defined]
        os.chmod(path, spec.mode)  # type: ignore[attr-defined]
        for key, value in getattr(spec, "xattrs", ()):
            os.setxattr(path, key, value, follow_symlinks=False)


class Builders:
    """One docker and one lamina store sharing the base image; builds and compares cases."""

    def __init__(self, docker: Docker, lamina: Lamina, work: Path):
        self.docker, self.lamina, self.work = docker, lamina, work
        # lamina is asked for the semantics of the builder that judges the case, through docker's switch
        self.lamina_classic = Lamina(lamina.root, {**lamina.environ, "DOCKER_BUILDKIT": "0"})
        self.lamina_buildkit = Lamina(lamina.root, {**lamina.environ, "DOCKER_BUILDKIT": "1"})

    def lamina_for(self, case: Case) -> Lamina:
        """lamina with ``DOCKER_BUILDKIT`` set as for the docker build that judges ``case``."""
        return self.lamina_buildkit if case.buildkit else self.lamina_classic

    def docker_build(self, case: Case, tag: str, dockerfile: Path | None, context: Path | str, args: tuple[str, ...],
                     stdin: bytes | None = None):
        named = ("-f", str(dockerfile)) if dockerfile is not None else ()
        command = ["build", "--no-cache", "--network", "none", "-t", tag, *named, *args, str(context)]
        if not case.buildkit:
            result = self.docker.run(*command, input=stdin, check=False)
            for _attempt in range(2):  # dockerd here sometimes loses a layer mid-build
                if result.returncode == 0 or case.fail is not None or case.lamina_accepts:
                    break
                result = self.docker.run(*command, input=stdin, check=False)
            return result
        env = {**os.environ, "DOCKER_BUILDKIT": "1", "DOCKER_CONFIG": str(self.docker.base / "cfg")}
        expected_to_build = case.fail is None and not case.lamina_accepts
        for _attempt in range(3):  # dockerd flakes (lost layers, a vanished secret file): ask again
            result = subprocess.run([self.docker.client, "-H", f"unix://{self.docker.socket}", *command[:1],
                                     "--progress", "plain", *command[1:]], input=stdin, capture_output=True, env=env,
                                    timeout=300)
            flaky = any(sign in result.stdout + result.stderr for sign in Docker.FLAKES)
            if result.returncode == 0 or not (flaky or expected_to_build):
                break
        return result

    def prepare(self, case: Case) -> Path:
        context = self.work / case.name / "ctx"
        if context.parent.exists():
            shutil.rmtree(context.parent)
        context.mkdir(parents=True)
        dockerfile = case.dockerfile
        if case.served:
            served = context.parent / "served"
            served.mkdir()
            for name, data in case.served.items():
                (served / name).parent.mkdir(parents=True, exist_ok=True)
                (served / name).write_bytes(data)
            dockerfile = dockerfile.replace("$URL", serve(served))
        write_context(context, {**case.files, "Dockerfile": dockerfile})
        for tag, text in case.pre:
            name = f"pre-{tag.replace('/', '-').replace(':', '-')}.Dockerfile"
            (context.parent / name).write_text(text)
            pre_case = dataclasses.replace(case, fail=None)
            oracle = self.docker_build(pre_case, tag, context.parent / name, context, ())
            assert oracle.returncode == 0, f"docker pre-build {tag}: {oracle.stderr.decode()}"
            self.lamina_for(case).run("build", "--no-cache", "-t", tag, "-f", str(context.parent / name), str(context))
        return context

    def check(self, case: Case) -> list[str]:
        """Everything that differs between docker's and lamina's build of ``case``.

        lamina builds once and that build is what is judged. Only docker's side is built again
        (``--no-cache``) when the two differ: the oracle dockerd now and then gives a wrong image
        (an empty rootfs, a lost last layer), while a lamina bug that shows in some builds only
        must not get a second chance."""
        context = self.prepare(case)
        tag, subject_tag = f"cx/{case.name}", f"cxl/{case.name}"  # docker load keeps lamina's name: not the oracle's
        args = tuple(arg.replace("SECRET:", f"{context}/") for arg in case.args)  # secret files by path
        source, stdin = stdin_source(case, context)
        dockerfile = None if case.stdin else context / "Dockerfile"
        subject = self.lamina_for(case).run("build", "--no-cache", "-t", subject_tag, *args, source, input=stdin,
                                            check=False)
        loaded: list[str] = []  # lamina's image in docker, loaded once for every judgement
        problems: list[str] = []
        for _attempt in range(2):
            oracle = self.docker_build(case, tag, dockerfile, source, args, stdin)
            problems = self.judge(case, oracle, subject, loaded)
            if not problems:
                break
        return problems

    def judge(self, case: Case, oracle: subprocess.CompletedProcess, subject: subprocess.CompletedProcess,
              loaded: list[str]) -> list[str]:
        """What differs between docker's build ``oracle`` and lamina's build ``subject`` of ``case``."""
        tag, subject_tag = f"cx/{case.name}", f"cxl/{case.name}"
        said = oracle.stdout.decode() + oracle.stderr.decode()
        stderr = subject.stderr.decode()
        if case.lamina_accepts:
            problems = [] if bool(oracle.returncode) != case.docker_builds_it else [f"docker's rc {oracle.returncode}: {said[-500:]}"]
            if subject.returncode:
                return [*problems, f"lamina failed: {stderr[-800:]}"]
            return problems + self.check_expected(case, subject_tag, loaded)
        if case.fail is not None:
            return self.check_failure(case, oracle.returncode, said, subject.returncode, stderr)
        if oracle.returncode != 0:
            return [f"docker failed: {said[-1500:]}"]
        if subject.returncode != 0:
            return [f"lamina failed: {stderr[-1500:]}"]
        if not loaded:
            loaded.append(self.load_subject(case, subject_tag))
        want, got = observe(self.docker, tag), observe(self.docker, loaded[0])
        for view in (want, got):  # a download's bare hash (lamina's differs from docker's tarsum)
            view["history"] = [_DOWNLOAD.sub(_masked_download, text) for text in view["history"]]
        if case.buildkit:  # BuildKit's history text and empty layers differ from the classic builder's
            for view in (want, got):
                view.pop("history"), view.pop("layers"), view.pop("author")
                view["history"], view["layers"], view["author"] = [], 0, ""
        for path in sorted(set(want["files"]) | set(got["files"])):  # BuildKit leaves RUN --mount points
            sides = [view["files"].get(path) for view in (want, got)]
            if None in sides and any(side and side[0] == "dir" for side in sides) and \
                    any(fnmatch.fnmatch(path, pattern) for pattern in case.fs_optional):
                want["files"].pop(path, None), got["files"].pop(path, None)
        problems = differences(want, got)
        if case.xattrs:
            want_x, got_x = xattr_tree(self.docker.export_image(tag)), xattr_tree(self.docker.export_image(loaded[0]))
            problems += [f"xattrs of /{path}: docker {want_x.get(path)} != lamina {got_x.get(path)}"
                         for path in sorted(set(want_x) | set(got_x)) if want_x.get(path) != got_x.get(path)]
        for command in case.runs:
            expected = self.docker.run("run", "--rm", "--network", "none", tag, *command, check=False)
            actual = self.docker.run("run", "--rm", "--network", "none", loaded[0], *command, check=False)
            if (expected.returncode, expected.stdout) != (actual.returncode, actual.stdout):
                problems.append(f"run {list(command)}: docker {expected.returncode} {expected.stdout!r}"
                                f" != lamina {actual.returncode} {actual.stdout!r}")
            ran = self.lamina.run("run", "--rm", "--network", "none", subject_tag, *command, check=False)
            if (expected.returncode, expected.stdout) != (ran.returncode, ran.stdout):
                problems.append(f"lamina run {list(command)}: docker {expected.returncode} {expected.stdout!r}"
                                f" != {ran.returncode} {ran.stdout!r} {ran.stderr.decode()[-300:]}")
        return problems

    def load_subject(self, case: Case, subject_tag: str) -> str:
        """lamina's image moved into docker (``lamina save`` + ``docker load``); its name there."""
        archive = self.work / case.name / "image.tar"
        self.lamina.run("save", "-o", str(archive), subject_tag)
        loaded = load_into_docker(self.docker, archive)
        assert loaded.startswith("cxl/"), loaded
        return loaded

    def check_expected(self, case: Case, tag: str, loaded: list[str]) -> list[str]:
        """Run ``case.expect`` commands in lamina's image (through docker) and check their output."""
        if not case.expect:
            return []
        if not loaded:
            loaded.append(self.load_subject(case, tag))
        problems = []
        for command, stdout in case.expect:
            result = self.docker.run("run", "--rm", "--network", "none", loaded[0], *command, check=False)
            if result.stdout.decode() != stdout:
                problems.append(f"run {list(command)}: {result.stdout.decode()!r} != expected {stdout!r}")
        return problems

    @staticmethod
    def check_failure(case: Case, docker_rc: int, said: str, lamina_rc: int, stderr: str) -> list[str]:
        problems = []
        if not case.docker_error or not case.fail:
            problems.append("an error case needs docker's message (docker_error) and lamina's (fail)")
        if docker_rc == 0:
            problems.append(f"docker did not fail: {said[-500:]}")
        elif case.docker_error and not re.search(case.docker_error, said):
            problems.append(f"docker's error does not match {case.docker_error!r}: {said[-500:]}")
        lines = [line for line in stderr.splitlines() if line.strip()]
        if lamina_rc == 0:
            problems.append("lamina did not fail")
        elif "Traceback" in stderr or not lines or not lines[-1].startswith("lamina: error: "):
            problems.append(f"lamina's error is not one 'lamina: error:' line: {stderr[-800:]}")
        else:
            message = lines[-1]
            if not re.search(case.fail, message):  # type: ignore[arg-type]
                problems.append(f"lamina's error does not match {case.fail!r}: {message}")
            if case.error_line is not None and f"Dockerfile:{case.error_line}:" not in message:
                problems.append(f"lamina's error does not name Dockerfile:{case.error_line}: {message}")
        return problems


def stdin_source(case: Case, context: Path) -> tuple[str, bytes | None]:
    """The context argument of both builds and what goes to their stdin."""
    if not case.stdin:
        return str(context), None
    if case.stdin.endswith("dockerfile"):
        payload = (context / "Dockerfile").read_bytes()
    else:
        payload = subprocess.run(["tar", "--numeric-owner", "-C", str(context), "-cf", "-", "."], check=True,
                                 capture_output=True).stdout
    if not case.stdin.startswith("url-"):
        return "-", payload
    remote = context.parent / "remote"
    remote.mkdir(exist_ok=True)
    (remote / "context").write_bytes(payload)
    return f"{serve(remote)}/context", None


def xattr_tree(data: bytes) -> dict[str, dict[str, str]]:
    """Path -> xattrs (PAX ``SCHILY.xattr.*``) of the members of an exported tree that have any."""
    import io

    tree = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            found = {key: value for key, value in member.pax_headers.items() if key.startswith("SCHILY.xattr.")}
            if found:
                tree[member.name.removeprefix("./").strip("/")] = found
    return tree


# docker 20.10 writes ``--chown=u`` and a download's hash without a space between them
_DOWNLOAD = re.compile(r"ADD (--chown=\S+?)? ?[0-9a-f]{64} in")


def _masked_download(match: re.Match) -> str:
    return f"ADD --chown={match[1].removeprefix('--chown=')} HASH in" if match[1] else "ADD HASH in"


_SERVERS: dict[str, str] = {}


def serve(directory: Path) -> str:
    """Serve ``directory`` over HTTP on loopback (dockerd downloads ADD URLs from the host)."""
    import functools
    import http.server
    import threading

    if str(directory) not in _SERVERS:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        handler = functools.partial(Quiet, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _SERVERS[str(directory)] = f"http://127.0.0.1:{server.server_address[1]}"
    return _SERVERS[str(directory)]


def tar_of(members: list[tuple[str, str | bytes | tuple | None, int]], *, compress: str = "") -> bytes:
    """A tar archive (optionally gz/bz2/xz) of (name, content, mode) entries; content None is a
    directory, ("sym", target) a symlink, ("hard", target) a hard link."""
    import io

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compress}" if compress else "w") as archive:
        for name, content, mode in members:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid, info.mtime = mode, 4242, 4343, 1_600_000_000
            if content is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif isinstance(content, tuple):  # ("sym" | "hard", target)
                info.type = tarfile.SYMTYPE if content[0] == "sym" else tarfile.LNKTYPE
                info.linkname = content[1]
                archive.addfile(info)
            else:
                data = content.encode() if isinstance(content, str) else content
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def main(argv: list[str]) -> int:
    from tests.compat.cases import CASES

    work = Path("/tmp/cx-dev")
    work.mkdir(exist_ok=True)
    docker = Docker(Path(argv[0]))
    lamina = Lamina(work / "store")
    if not (work / "base.tar").exists():
        lamina.run("load", "-i", str(make_base(docker, work)))
    builders = Builders(docker, lamina, work)
    wanted = argv[1:]
    failed = 0
    for case in CASES:
        if wanted and not any(re.fullmatch(pattern, case.name) for pattern in wanted):
            continue
        problems = builders.check(case)
        failed += bool(problems)
        print(("FAIL " if problems else "PASS ") + case.name, flush=True)
        for problem in problems:
            print("   ", problem)
    return 1 if failed else 0

