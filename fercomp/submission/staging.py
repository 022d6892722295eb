"""Isolation between teams: each worker gets a private copy of its own hand-in and nothing else.

The hand-in (the `.py` and its declared FILES) is copied into `<worker home>/handin/`, its weights into
`<worker home>/weights/` (where the worker memory-maps them). The worker may read its home and the libraries; the folder the hand-in came
from (the shared `submissions/`, with every other team's code and weights) is hidden by the namespace
layer and refused by the audit hook, and every other worker's home is hidden behind an empty mount.
Copies, never links: a worker that writes into its staged files changes nothing of the team's.
Stdlib only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Handin:
    """What a worker may see of a team: its files by relative name, and the folder they came from."""

    main: str  # the .py, relative to origin
    origin: Path  # the team's folder as handed in: hidden from the worker
    files: dict[str, Path] = field(default_factory=dict)  # relative name → source file (main included)
    weights: Path | None = None  # the weights file the hand-in resolved to (the team's, or a fetched copy)


def homes_root() -> Path:
    """The folder of every jail's home on this machine (one per user). Nobody may list it; the jail's uid may
    pass through it (nsjail binds a home as that uid), and each home's name is random."""
    root = Path(tempfile.gettempdir()) / f"fercomp-workers-{os.getuid()}"
    root.mkdir(mode=0o711, exist_ok=True)
    os.chmod(root, 0o711)
    return root


def new_home(kind: str) -> Path:
    """A fresh private folder for one jail, named for the grading process that owns it; first the folders of
    grading runs that died (killed, so they never cleaned up) are removed: a jail's leftovers outlive nothing."""
    root = homes_root()
    for folder in root.iterdir():
        owner = folder.name.split("-")[1] if folder.name.count("-") >= 2 else ""
        if owner.isdigit() and int(owner) != os.getpid() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-", dir=root))


def stage(handin: Handin, home: Path) -> Path:
    """Copy the hand-in into `home/handin/` and its weights into `home/weights/`; return the staged .py's path."""
    folder = home / "handin"
    for name, source in handin.files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    if handin.weights is not None:
        (home / "weights").mkdir()
        shutil.copyfile(handin.weights, staged_weights(handin, home))  # in-kernel (sendfile): no pass through Python
    return folder / handin.main


def staged_weights(handin: Handin, home: Path) -> Path | None:
    """Where `stage` puts the hand-in's weights in a worker's home."""
    return home / "weights" / handin.weights.name if handin.weights is not None else None


def hideable(origin: Path, needed: list[str]) -> bool:
    """Whether covering `origin` with an empty mount leaves every path the worker needs visible."""
    origin_text = str(origin.resolve())
    if origin_text == "/":
        return False
    return not any(p == origin_text or p.startswith(origin_text.rstrip("/") + "/") for p in needed)
