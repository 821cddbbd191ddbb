"""What runc would refuse about an exec, found before runc runs: runc prints its refusal on
the stderr it shares with the process, so lamina could not make it docker's one line after.

The checks follow runc's order inside the container (``chdir`` to the working dir, then Go's
``exec.LookPath`` of the command on the process's ``PATH``), on the container's root as its
init sees it (``/proc/<pid>/root``, volumes included). docker answers an exec that could not
start with exit status 126 and ``OCI runtime exec failed: …: unknown``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from lamina.errors import RuntimeError_
from lamina.runtime.rootpath import secure_join

__all__ = ["ExecError", "check_exec"]

EXEC_FAILED_CODE = 126


class ExecError(RuntimeError_):
    """docker's refusal of an exec that could not start."""

    exit_code = EXEC_FAILED_CODE


def check_exec(root: str, argv0: str, env: Sequence[str], cwd: str) -> None:
    """Raise ExecError with docker's words when runc could not start ``argv0`` in ``cwd``."""
    if not cwd.startswith("/"):
        raise ExecError("OCI runtime exec failed: exec failed: Cwd must be an absolute path: unknown")
    where = secure_join(root, cwd)
    if where is None or not os.path.isdir(where):
        reason = "no such file or directory" if where is None else "not a directory"
        _refuse(f'chdir to cwd ("{cwd}") set in config.json failed: {reason}')
    problem = _look_path(root, argv0, env, cwd)
    if problem:
        _refuse(f'exec: "{argv0}": {problem}')


def _refuse(reason: str) -> None:
    raise ExecError(f"OCI runtime exec failed: exec failed: unable to start container process: {reason}: unknown")


def _look_path(root: str, name: str, env: Sequence[str], cwd: str) -> str:
    """Go's exec.LookPath as runc runs it in the container: "" when found, else the reason."""
    if "/" in name:
        return _executable(root, name if name.startswith("/") else os.path.join(cwd, name), name)
    path = next((entry[5:] for entry in reversed(env) if entry.startswith("PATH=")), "")
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if not candidate.startswith("/"):
            candidate = os.path.join(cwd, candidate)
        if not _executable(root, candidate, name):
            return ""
    return "executable file not found in $PATH"


def _executable(root: str, path: str, shown: str) -> str:
    target = secure_join(root, path)
    try:
        st = os.stat(target) if target is not None else None
    except OSError:
        st = None
    if st is None:
        return f"stat {shown}: no such file or directory"
    if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
        return "permission denied"
    return ""
