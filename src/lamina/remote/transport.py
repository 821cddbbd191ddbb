"""Running ``lamina`` on another host through ssh: one ssh connection per command.

docker's ssh transport runs ``docker system dial-stdio`` over ssh and speaks its API through
it; lamina has no daemon, so the faithful equivalent is to run the lamina command itself on the
other host and relay its stdin, stdout, stderr and exit status. Because it IS ``ssh``, the
user's ``~/.ssh/config`` (aliases, ports, keys, ``ProxyJump``) and ``known_hosts`` apply as
they do for docker. ``BatchMode=yes`` makes a missing key or an unknown host key fail at once
instead of prompting in the middle of a command.

ssh's own messages are sent to a log file (``ssh -E``) so that they never mix with the remote
command's stderr: exit status 255 with a logged reason is ssh's failure (one line, naming the
host); anything else is the remote lamina's own status.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from lamina.errors import RemoteError, UsageError

__all__ = ["SshTarget", "parse_host", "ssh_argv", "run_remote", "remote_process", "capture_remote",
           "capture_remote_streams", "remote_error_line"]

#: ssh exits with this status when ssh itself failed (and with the remote status otherwise)
SSH_FAILED = 255


@dataclass(frozen=True, slots=True)
class SshTarget:
    """Where to connect: ssh's destination (an address or a ``~/.ssh/config`` alias)."""

    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"ssh://{user}{self.host}{port}"


def parse_host(url: str) -> SshTarget:
    """``ssh://[user@]host[:port]`` (docker's ``-H`` form); any other scheme is refused."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme != "ssh":
        raise UsageError(f"unsupported host {url!r}: lamina reaches other hosts only as ssh://[user@]host[:port]")
    if not rest or "/" in rest.rstrip("/") or any(c.isspace() for c in rest):
        raise UsageError(f"invalid host {url!r}: expected ssh://[user@]host[:port]")
    rest = rest.rstrip("/")
    user, at, hostport = rest.rpartition("@")
    if at and not user:
        raise UsageError(f"invalid host {url!r}: empty user name")
    host, port = hostport, None
    if hostport.startswith("["):  # [v6 address]:port
        closing = hostport.find("]")
        if closing < 0:
            raise UsageError(f"invalid host {url!r}: unclosed [")
        host, tail = hostport[1:closing], hostport[closing + 1:]
        port_text = tail[1:] if tail.startswith(":") else None
        if tail and port_text is None:
            raise UsageError(f"invalid host {url!r}: expected ssh://[user@]host[:port]")
    else:
        host, colon, port_text = hostport.partition(":")
        port_text = port_text if colon else None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UsageError(f"invalid host {url!r}: port must be a number from 1 to 65535")
        port = int(port_text)
    if not host or host.startswith("-"):
        raise UsageError(f"invalid host {url!r}: no host name")
    return SshTarget(host, user or None, port)


def ssh_argv(target: SshTarget, remote_args: Sequence[str], *, log_file: str | None = None,
             tty: bool = False) -> list[str]:
    """The ssh command line that runs ``lamina ARGS`` on ``target``.

    ``LAMINA_SSH_COMMAND`` replaces plain ``ssh`` (as ``GIT_SSH_COMMAND`` does for git), e.g.
    ``ssh -F ./ssh_config``; ``LAMINA_REMOTE_COMMAND`` names the lamina to run over there.
    """
    ssh = shlex.split(os.environ.get("LAMINA_SSH_COMMAND") or "ssh")
    remote_command = os.environ.get("LAMINA_REMOTE_COMMAND") or "lamina"
    argv = [*ssh, "-o", "BatchMode=yes"]
    if log_file is not None:
        argv += ["-E", log_file]
    argv += ["-tt"] if tty else ["-T"]
    if target.port:
        argv += ["-p", str(target.port)]
    if target.user:
        argv += ["-l", target.user]
    argv += ["--", target.host, shlex.join([*shlex.split(remote_command), *remote_args])]
    return argv


def run_remote(target: SshTarget, remote_args: Sequence[str], *, tty: bool = False) -> int:
    """Run ``lamina ARGS`` over there with this process's stdin/stdout/stderr; its exit status."""
    with _ssh_log() as log_file:
        try:
            completed = subprocess.run(ssh_argv(target, remote_args, log_file=log_file, tty=tty))
        except FileNotFoundError:
            raise RemoteError(f"{target}: the ssh client is not installed (Debian: openssh-client)") from None
        except KeyboardInterrupt:
            return 130
        _check_ssh(target, completed.returncode, log_file)
        return completed.returncode


@contextmanager
def remote_process(target: SshTarget, remote_args: Sequence[str], *, stdout: int | IO | None = None,
                   stderr: int | IO | None = None) -> Iterator[subprocess.Popen]:
    """``lamina ARGS`` over there with a pipe to its stdin; leaving the block waits for it and
    raises :class:`RemoteError` when ssh itself failed. The caller reads ``returncode``."""
    with _ssh_log() as log_file:
        try:
            process = subprocess.Popen(ssh_argv(target, remote_args, log_file=log_file), stdin=subprocess.PIPE,
                                       stdout=stdout, stderr=stderr)
        except FileNotFoundError:
            raise RemoteError(f"{target}: the ssh client is not installed (Debian: openssh-client)") from None
        try:
            yield process
        except BrokenPipeError:
            pass  # the other side went away; its status and ssh's log say why
        finally:
            if process.stdin and not process.stdin.closed:
                try:
                    process.stdin.close()
                except BrokenPipeError:
                    pass
            if process.stdout is not None:
                process.stdout.close()  # a writer we stopped reading gets EPIPE instead of blocking forever
            process.wait()
        _check_ssh(target, process.returncode, log_file)


def capture_remote(target: SshTarget, remote_args: Sequence[str], *, stdin: bytes = b"") -> bytes:
    """Run ``lamina ARGS`` over there and return its stdout; a failure is one :class:`RemoteError`
    line carrying the remote lamina's own error message."""
    return capture_remote_streams(target, remote_args, stdin=stdin)[0]


def capture_remote_streams(target: SshTarget, remote_args: Sequence[str], *, stdin: bytes = b"") -> tuple[bytes, bytes]:
    """:func:`capture_remote`, with the remote command's stderr as well."""
    with _ssh_log() as log_file:
        try:
            completed = subprocess.run(ssh_argv(target, remote_args, log_file=log_file), input=stdin,
                                       capture_output=True)
        except FileNotFoundError:
            raise RemoteError(f"{target}: the ssh client is not installed (Debian: openssh-client)") from None
        _check_ssh(target, completed.returncode, log_file)
    if completed.returncode != 0:
        raise RemoteError(f"{target}: {remote_error_line(completed.stderr)}")
    return completed.stdout, completed.stderr


def remote_error_line(stderr: bytes) -> str:
    """The remote lamina's error, without its ``lamina: error:`` prefix (the last such line)."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("lamina: error: ")]
    if errors:
        return errors[-1].removeprefix("lamina: error: ")
    if lines and lines[-1].endswith(("lamina: command not found", "lamina: not found")):
        return ("lamina is not installed there, or not on the PATH of ssh sessions "
                "(LAMINA_REMOTE_COMMAND names it)")
    return lines[-1] if lines else "the remote command failed without a message"


@contextmanager
def _ssh_log() -> Iterator[str]:
    with tempfile.NamedTemporaryFile(prefix="lamina-ssh-", suffix=".log") as log:
        yield log.name


def _check_ssh(target: SshTarget, status: int, log_file: str) -> None:
    """Raise when ssh itself failed: status 255 and a reason in its log (a remote command may
    exit 255 on its own; then ssh has logged nothing at error level)."""
    if status != SSH_FAILED:
        return
    try:
        with open(log_file, encoding="utf-8", errors="replace") as log:
            lines = [line.strip() for line in log if line.strip() and not line.startswith("Warning: Permanently added")]
    except OSError:
        lines = []
    if not lines:
        return
    raise RemoteError(f"cannot reach {target}: {_reason(lines)}")


def _reason(lines: list[str]) -> str:
    """ssh's most telling line: host-key trouble first (its banner spans many lines)."""
    for line in lines:
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in line:
            return "the host key has changed (possible man-in-the-middle attack; check known_hosts)"
    for line in lines:
        if "Host key verification failed" in line:
            known = next((candidate for candidate in lines if "host key is known" in candidate), "")
            return f"host key verification failed{': ' + known.rstrip('.') if known else ''}"
    return lines[-1].removeprefix("ssh: ").rstrip(".")


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
