"""jail.POLICY as a seccomp filter a forked measurer stacks on itself, built with libseccomp through ctypes.

The measurer template (template.py) runs under jail.TEMPLATE_POLICY, which lets it fork. Each fork, before it
touches an exported program, adds this filter: seccomp filters only add up (the kernel runs every filter and the
strictest answer wins), so a fork is held by POLICY exactly as a fresh measurer jail is, and can never drop it.
The rules are jail.py's own tables (DENIED_SYSCALLS, KILL_RULES, ERRNO_RULES), the ones POLICY's text is written
from. Stdlib only: runs inside the jail, before anything of an artifact is read.
"""

from __future__ import annotations

import ctypes

from fercomp.submission import jail

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_ERRNO = 0x00050000
# enum scmp_compare (seccomp.h)
_OPS = {"!=": 1, "==": 4, "&": 7}  # SCMP_CMP_NE, SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ
# kafel's names that libseccomp spells otherwise (x86-64: umount is umount2)
_LIBSECCOMP_NAMES = {"umount": "umount2"}


class FilterError(Exception):
    """The filter could not be built or loaded: the fork must not go on (it exits; the parent sees it fail)."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _library() -> ctypes.CDLL:
    try:  # by its soname: find_library would start ldconfig, a new process (inside the jail, a policy kill)
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as exc:
        raise FilterError(f"libseccomp cannot be loaded ({exc})") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def available() -> str | None:
    """Why a fork could not stack the filter here (None when it can): checked by the trusted side before it
    chooses the template, so a machine without libseccomp keeps fresh measurer jails."""
    try:
        lib = _library()
    except FilterError as exc:
        return str(exc)
    unknown = [name for name in _every_name() if lib.seccomp_syscall_resolve_name(_LIBSECCOMP_NAMES.get(name, name).encode()) < 0]
    return f"libseccomp does not know {', '.join(unknown)}" if unknown else None


def _every_name() -> list[str]:
    return [*jail.DENIED_SYSCALLS, *(rule[0] for rule in jail.KILL_RULES), *(n for _, names in jail.ERRNO_RULES for n in names)]


def stack_policy() -> None:
    """Add POLICY to this process's seccomp filters. Raises FilterError if any rule cannot be added."""
    lib = _library()
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise FilterError("seccomp_init failed")
    try:
        for name in jail.DENIED_SYSCALLS:
            _add(lib, ctx, SCMP_ACT_KILL_PROCESS, name, [])
        for name, arg, op, value, _ in jail.KILL_RULES:
            if op == "&":  # (arg & mask) != 0: one rule per bit of the mask, as a masked compare has no "not equal"
                for bit in (1 << i for i in range(64) if value >> i & 1):
                    _add(lib, ctx, SCMP_ACT_KILL_PROCESS, name, [_ArgCmp(arg, _OPS["&"], bit, bit)])
            elif op == "&==0":  # (arg & mask) == 0
                _add(lib, ctx, SCMP_ACT_KILL_PROCESS, name, [_ArgCmp(arg, _OPS["&"], value, 0)])
            else:
                _add(lib, ctx, SCMP_ACT_KILL_PROCESS, name, [_ArgCmp(arg, _OPS[op], value, 0)])
        for errno, names in jail.ERRNO_RULES:
            for name in names:
                _add(lib, ctx, _SCMP_ACT_ERRNO | errno, name, [])
        if lib.seccomp_load(ctx) != 0:
            raise FilterError("seccomp_load failed")
    finally:
        lib.seccomp_release(ctx)


def _add(lib: ctypes.CDLL, ctx: int, action: int, name: str, args: list[_ArgCmp]) -> None:
    number = lib.seccomp_syscall_resolve_name(_LIBSECCOMP_NAMES.get(name, name).encode())
    if number < 0:
        raise FilterError(f"libseccomp does not know the system call {name}")
    array = (_ArgCmp * max(len(args), 1))(*args)
    if lib.seccomp_rule_add_array(ctx, action, number, len(args), array) != 0:
        raise FilterError(f"the rule for {name} could not be added")
