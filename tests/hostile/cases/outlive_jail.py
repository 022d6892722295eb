"""Clears its death signal, then keeps a thread spinning: the jail's first process died with nsjail only by that
signal, so it outlived its jail and spun on the grader's cores through the next teams' timings (found by an
attacker's pass over the jail). It names itself so the test can look for it."""
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
import threading
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(15, b"fercomp-orphan", 0, 0, 0)  # PR_SET_NAME
libc.prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG 0: nsjail's death no longer takes this process with it


def spin():
    end = time.monotonic() + 60
    while time.monotonic() < end:
        pass


threading.Thread(target=spin).start()  # not a daemon: the interpreter waits for it after the parent hangs up
