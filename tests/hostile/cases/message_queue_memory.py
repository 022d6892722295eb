"""Holds ~400 MB of kernel memory the watchdog cannot see: SysV message queues (16 KB each by default, up to 32,000 of
them per IPC namespace) filled and left behind. A queue's messages belong to no process's resident set, so without a
cgroup (an unprivileged grader: a hosted runner, Slurm) nothing stopped it; semaphores and POSIX queues likewise."""
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

libc = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
MESSAGE = 8000  # under the default msgmax (8,192); two fill a queue's default 16,384 bytes


class Message(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * MESSAGE)]


held = 0
message = Message(1, b"x" * MESSAGE)
for _ in range(25_000):
    queue = libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
    if queue < 0:
        break
    for _ in range(2):
        if libc.msgsnd(queue, ctypes.byref(message), MESSAGE, 0o4000) == 0:  # IPC_NOWAIT
            held += MESSAGE
if held >= 100 << 20:
    raise RuntimeError(f"LEAKED: {held >> 20} MB queued in SysV message queues that no process holds")
if libc.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600) >= 0:
    raise RuntimeError("LEAKED: a SysV semaphore set was created")
if libc.syscall(240, b"q", 0o100 | 0o2, 0o600, None) >= 0:  # mq_open(name, O_CREAT | O_RDWR, 0600, NULL) on x86_64
    raise RuntimeError("LEAKED: a POSIX message queue was opened")
