"""Where a record was made: fercomp's version and git revision, torch and Python, the platform and CPU. Reads no
torch: the jailed measurer reports what it ran on, merged in by `environment`."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

from fercomp.version import __version__


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    """fercomp's git commit when it runs from a checkout (with "+dirty" for local changes); None otherwise."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "fercomp"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), or what platform knows elsewhere."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or ""


@functools.lru_cache(maxsize=None)
def package_version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def environment(device: str, threads: int, worker_info: dict | None = None) -> dict:
    """Versions and hardware, without importing torch here (the worker reports what it ran on)."""
    env = {"fercomp": __version__, "fercomp_git_revision": git_revision(), "torch": package_version("torch"),
           "python": platform.python_version(),
           "platform": platform.platform(), "device": device, "cpu_model": cpu_model(), "threads": threads}
    env.update(worker_info or {})
    return env
