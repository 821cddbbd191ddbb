"""The default seccomp filter for containers: deny what docker's default profile denies.

Docker's profile is an allow-list of some 350 syscalls. lamina states the same policy the other
way round, as a short deny-list on top of "allow", which is easier to read and to keep
right: kernel keyrings (``keyctl``, ``add_key``, ``request_key``: not namespaced), loading and
removing kernel modules, ``kexec``, ``reboot``, swap, the clock, BPF and perf (kernel attack
surface and host-wide tracing), ``userfaultfd`` (a favourite exploit primitive), handle-based
opens (``open_by_handle_at`` escaped containers once), the mount API and ``pivot_root``/``setns``
(also refused for want of ``CAP_SYS_ADMIN``; refusing them twice is the point of a filter),
``io_uring`` (as docker since 25.0), and creating user namespaces with ``unshare``/``clone``
(they give back the capabilities the container dropped). ``clone3`` answers ENOSYS, as in
docker's profile, so C libraries fall back to ``clone`` whose flags the filter can read.
``ptrace`` and ``process_vm_*`` stay allowed, as docker allows them on kernels ≥ 4.8.
"""

from __future__ import annotations

import errno
import os

from lamina import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["DENIED_SYSCALLS", "default_profile"]

DENIED_SYSCALLS = (
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "init_module",
    "io_uring_enter", "io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
    "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root",
    "quotactl", "quotactl_fd", "reboot", "request_key", "setns", "settimeofday", "stime", "swapoff",
    "swapon", "_sysctl", "sysfs", "umount", "umount2", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
)  # fmt: skip

_CLONE_NEWUSER = 0x10000000

_ARCHITECTURES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
    "ppc64le": ["SCMP_ARCH_PPC64LE"],
    "s390x": ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"],
    "riscv64": ["SCMP_ARCH_RISCV64"],
}


def default_profile() -> dict[str, Any]:
    """The runtime-spec ``linux.seccomp`` object (runc skips names this kernel lacks)."""
    eperm = {"action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM}
    new_user_namespace = {"index": _flags_argument(), "value": _CLONE_NEWUSER, "valueTwo": _CLONE_NEWUSER,
                          "op": "SCMP_CMP_MASKED_EQ"}
    syscalls = [
        {"names": list(DENIED_SYSCALLS), **eperm},
        {"names": ["unshare"], **eperm, "args": [{**new_user_namespace, "index": 0}]},
        {"names": ["clone"], **eperm, "args": [new_user_namespace]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
    ]
    profile: dict[str, Any] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls}
    architectures = _ARCHITECTURES.get(os.uname().machine)
    if architectures:
        profile["architectures"] = architectures
    return profile


def _flags_argument() -> int:
    """clone's flags are its first argument, except on s390 where the first two are swapped."""
    return 1 if os.uname().machine.startswith("s390") else 0
