"""Device names, one rule for every command: validated without torch (the command line), resolved with
torch (the scoring worker and training). Accepted: auto, cpu, cuda, cuda:N."""

from __future__ import annotations

import re

from fercomp.errors import UsageError

_NAME = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


class DeviceUnavailable(RuntimeError):
    """A CUDA device was asked for that this machine does not have."""


def validate(name: str, option: str = "--device") -> str:
    """`name`, or a one-line UsageError (`--device gpu: expected auto, cpu, cuda or cuda:N`)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(f"{option} {name}: expected auto, cpu, cuda or cuda:N")
    return name


def resolve(torch, requested: str) -> str:
    """auto → cuda:N when available, else cpu; a CUDA device that is not there is DeviceUnavailable.

    A bare "cuda" becomes "cuda:<current device>": torch.cuda.set_device refuses a device without an index.
    """
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"--device {requested}, but CUDA is not available here; use --device cpu")
        index = int(requested.split(":", 1)[1]) if ":" in requested else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(f"--device {requested}, but this machine has {torch.cuda.device_count()} CUDA "
                                    f"device(s); use cuda:0 … cuda:{torch.cuda.device_count() - 1}")
        return f"cuda:{index}"
    return requested
