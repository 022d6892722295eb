"""What a jail uses, as the parent sees it from outside: its processes, their resident memory, and what its home
holds on disk (files, folders, depth, and files removed but still held). The runner's watchdog polls these and
kills a jail past its limits; nothing here trusts anything the jail says. Stdlib only."""

from __future__ import annotations

import os
import stat

HOME_ENTRIES = 10_000  # files and folders a jail's home may hold (a hand-in's own: a few, and its export's)
HOME_DEPTH = 32  # folders deep


def home_excess(home: str, limit_mb: int, pids: list[int] = ()) -> str:
    """What a jail's home holds beyond its limits, or "". Every entry counts, folders too (4 KB and an inode each:
    millions of empty folders went uncounted, and cost the parent minutes to remove); each folder is opened from
    its parent's descriptor without following links (a walk by path skipped whatever lay past 4,096 bytes of
    path, and followed a folder swapped for a link to a host path between the listing and the descent); and
    files the jail's processes (`pids`) removed but keep open or mapped count as well."""
    usage = {"bytes": 0, "entries": 0, "deep": False}
    over = lambda: usage["bytes"] > limit_mb << 20 or usage["entries"] > HOME_ENTRIES or usage["deep"]

    def walk(fd: int, depth: int) -> None:
        with os.scandir(fd) as entries:
            for entry in entries:
                if over():
                    return
                usage["entries"] += 1
                try:
                    info = entry.stat(follow_symlinks=False)
                    usage["bytes"] += info.st_blocks * 512
                    if not stat.S_ISDIR(info.st_mode):
                        continue
                    if depth == HOME_DEPTH:
                        usage["deep"] = True
                        continue
                    child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError:  # removed, or swapped for a link, since the listing
                    continue
                try:
                    walk(child, depth + 1)
                finally:
                    os.close(child)

    try:
        top = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return ""
    usage["bytes"] = removed_bytes(list(pids), os.fstat(top).st_dev)
    try:
        walk(top, 1)
    except OSError:  # a folder's listing failed midway: the next round counts again
        pass
    finally:
        os.close(top)
    if usage["bytes"] > limit_mb << 20:
        return f"its home passed {limit_mb} MB on disk"
    if usage["entries"] > HOME_ENTRIES:
        return f"its home holds more than {HOME_ENTRIES:,} files and folders"
    return f"its home's folders are nested more than {HOME_DEPTH} deep" if usage["deep"] else ""


def tree_pids(pid: int) -> list[int]:
    """`pid` and every process below it (a jail's processes are nsjail's descendants)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return found


def tree_rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def removed_bytes(pids: list[int], device: int) -> int:
    """Blocks of the files on `device` these processes removed but hold open or mapped: in no folder any more,
    still on the disk until the jail dies (its log, which it writes, counts too)."""
    held: dict[int, int] = {}
    for pid in pids:
        for kind in ("fd", "map_files"):  # map_files: a mapping outlives its descriptor (root may read it)
            try:
                names = os.listdir(f"/proc/{pid}/{kind}")
            except OSError:
                continue
            for name in names:
                try:
                    info = os.stat(f"/proc/{pid}/{kind}/{name}")
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) and info.st_nlink == 0 and info.st_dev == device:
                    held[info.st_ino] = info.st_blocks * 512
    return sum(held.values())
