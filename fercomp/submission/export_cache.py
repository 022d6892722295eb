"""The cache of exported programs: one `<key>.pt2` per hand-in content, bounded, oldest-used evicted first.

Programs are keyed by everything they depend on (session.artifact_key), so the cache only grows: every edit of
every team's file adds one, and a course's grew to 1.7 GB. After each new entry the least recently used go
until the folder fits $FERCOMP_EXPORT_CACHE_MB (DEFAULT_LIMIT_MB); an entry is used when a score reads it. A
pruned entry only costs a re-export (the worker runs the hand-in again); `fercomp cache` shows and prunes it.
Beside each program, `<key>.figures.json` keeps what the measurer found that depends on the program's bytes alone
(its weights' sketch, its FLOP counts), so a re-score measures only what can change: the outputs and the timings.
Written only by the trusted parent; no jail sees it.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LIMIT_MB = 2048  # a few hundred typical hand-ins (1–100 MB each); the 104 MB baseline fits many times
SUFFIX = ".pt2"
FIGURES = ".figures.json"


@dataclass(frozen=True)
class Entry:
    path: Path
    size: int  # bytes
    used: float  # last written or read (mtime, set on every use), seconds since the epoch


def folder() -> Path:
    """$FERCOMP_EXPORT_CACHE_DIR (a course may keep it between CI runs), else the data cache's `exported/`."""
    from fercomp.data.cache import cache_dir

    return Path(os.environ.get("FERCOMP_EXPORT_CACHE_DIR") or cache_dir() / "exported")


def limit_bytes() -> int:
    """The bound: $FERCOMP_EXPORT_CACHE_MB megabytes (0: no bound), else DEFAULT_LIMIT_MB."""
    from fercomp.errors import UsageError

    text = os.environ.get("FERCOMP_EXPORT_CACHE_MB", "").strip()
    if not text:
        return DEFAULT_LIMIT_MB << 20
    if not text.isdigit():
        raise UsageError(f"FERCOMP_EXPORT_CACHE_MB={text}: a whole number of megabytes (0: no bound)")
    return int(text) << 20


def entries(where: Path | None = None) -> list[Entry]:
    """Every cached program, least recently used first (a file another process removed meanwhile is skipped)."""
    found = []
    for path in Path(where or folder()).glob(f"*{SUFFIX}"):
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        found.append(Entry(path, info.st_size, info.st_mtime))
    return sorted(found, key=lambda e: (e.used, e.path.name))


def mark_used(path: Path) -> None:
    """Make `path` the most recently used entry, so pruning takes the others first."""
    try:
        os.utime(path)
    except FileNotFoundError:
        pass


def prune(limit: int, where: Path | None = None, keep: Path | None = None) -> list[Entry]:
    """Remove the least recently used entries until the rest fit in `limit` bytes (0: no bound); never `keep`,
    the entry just written or read. Returns what went."""
    if limit <= 0:
        return []
    cached = entries(where)
    total = sum(e.size for e in cached)
    removed = []
    for entry in cached:
        if total <= limit:
            break
        if keep is not None and entry.path == Path(keep):
            continue
        remove(entry.path)
        total -= entry.size
        removed.append(entry)
    return removed


def remove(program: Path) -> None:
    """Remove a cached program and its figures (gone already: nothing to do, a parallel job pruned it first)."""
    for path in (Path(program), figures_path(program)):
        path.unlink(missing_ok=True)


def figures_path(program: Path) -> Path:
    return Path(program).with_name(Path(program).name.removesuffix(SUFFIX) + FIGURES)


@functools.lru_cache(maxsize=1)
def measuring_code() -> str:
    """The sha256 of everything that computes the kept figures: fercomp's measuring sources and the counters'
    versions. A figure kept by other code (a fercomp edited in place, an upgraded fvcore) is measured again."""
    from importlib.metadata import version

    from fercomp.hashing import sha256_file, sha256_json

    root = Path(__file__).resolve().parents[1]
    sources = sorted((root / "measure").glob("*.py")) + [root / "submission" / "measurer.py"]
    return sha256_json({"sources": {p.name: sha256_file(p) for p in sources},
                        "packages": {name: version(name) for name in ("torch", "fvcore", "ptflops")}})


def figures(program: Path, artifact_sha256: str) -> dict:
    """The figures an earlier score kept for `program`, when they were measured from these very bytes by this very
    code; else {}. Keys: `weights_sketch`, and `flops` by request (fercomp/submission/session.py)."""
    try:
        kept = json.loads(figures_path(program).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or a file cut short by a full disk: measure again
        return {}
    if not isinstance(kept, dict) or kept.get("artifact_sha256") != artifact_sha256 or kept.get("code") != measuring_code():
        return {}
    return kept


def keep(program: Path, artifact_sha256: str, name: str, value) -> None:
    """Keep one figure of `program` (`flops` values merge by request); a write that fails only costs a re-measure."""
    from fercomp.atomic import atomic_path

    kept = figures(program, artifact_sha256) or {"artifact_sha256": artifact_sha256, "code": measuring_code()}
    kept[name] = {**kept.get(name, {}), **value} if name == "flops" else value
    try:
        with atomic_path(figures_path(program), durable=False) as tmp:
            tmp.write_text(json.dumps(kept), encoding="utf-8")
    except OSError:
        pass
