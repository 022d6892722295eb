"""Hand-ins collected privately: no team sees another's code or weights, as every team does in a pull-request course.

Each team uploads one zip of its files (`<team>.py`, `<team>.<ext>` weights, `<team>/…`) to a link that downloads
without a login, and gives the instructor the link and the zip's sha256 (a form whose answers export as CSV:
team,url,sha256). `collect` downloads each zip once, refuses one whose hash differs or that holds anything but that
team's own files (another team's, a path outside, a link), and replaces that team's files in the submissions folder
of the instructor's private course repository. Scoring then runs as in any course (local, Slurm, a private repo's CI).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fercomp.errors import UsageError
from fercomp.hashing import hasher
from fercomp.submission.fetch import SHA256_RE

TEAM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a hand-in is imported as a module named after its team
TIMEOUT_S = 60.0
COLUMNS = ("team", "url", "sha256")


@dataclass(frozen=True)
class HandIn:
    team: str
    url: str
    sha256: str
    row: int  # the CSV's line number, for messages


@dataclass(frozen=True)
class Collected:
    team: str
    files: list[str]  # relative to the submissions folder; empty when refused
    refused: str | None = None  # why, in one line


def read_handins(path: Path) -> list[HandIn]:
    """The form's CSV (team,url,sha256; any other column is ignored), checked row by row; a team's later row
    replaces its earlier one (a re-submission)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the hand-ins CSV ({exc.strerror})") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    missing = [c for c in COLUMNS if c not in fields]
    if missing:
        raise UsageError(f"{path}: no column {missing[0]}; the hand-ins CSV needs the columns team,url,sha256")
    latest: dict[str, HandIn] = {}
    for line, row in enumerate(reader, 2):
        team, url, sha = (str(row.get(fields[c]) or "").strip() for c in COLUMNS)
        if not TEAM_RE.match(team):
            raise UsageError(f"{path}:{line}: team {team!r}: letters, digits and _ only, not starting with a digit")
        if not url.startswith(("https://", "http://")):
            raise UsageError(f"{path}:{line}: url {url!r}: an http(s) link that downloads the zip without a login")
        if not SHA256_RE.match(sha.lower()):
            raise UsageError(f"{path}:{line}: sha256 {sha!r}: 64 hex digits (sha256sum of the zip)")
        latest[team] = HandIn(team, url, sha.lower(), line)
    return list(latest.values())


def collect(handins: list[HandIn], submissions: Path, max_mb: int = 1024) -> list[Collected]:
    """Download, verify and unpack every hand-in into `submissions`; a refused one leaves that team's files as they were."""
    submissions = Path(submissions)
    submissions.mkdir(parents=True, exist_ok=True)
    return [_collect_one(h, submissions, max_mb) for h in handins]


def _collect_one(handin: HandIn, submissions: Path, max_mb: int) -> Collected:
    with tempfile.TemporaryDirectory(prefix=f"fercomp-collect-{handin.team}-", dir=submissions.parent) as tmp:
        try:
            archive = _download(handin, Path(tmp) / "handin.zip", max_mb)
            files = _unpack(handin.team, archive, Path(tmp) / "files")
        except _Refused as exc:
            return Collected(handin.team, [], str(exc))
        for old in [*submissions.glob(f"{handin.team}.*"), submissions / handin.team]:  # the team's earlier hand-in
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            elif old.exists() or old.is_symlink():
                old.unlink()
        for name in files:
            target = submissions / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(Path(tmp) / "files" / name, target)
        return Collected(handin.team, files)


class _Refused(Exception):
    """A hand-in that is not collected: the message says why."""


def _download(handin: HandIn, target: Path, max_mb: int) -> Path:
    digest, size = hasher(), 0
    try:
        with open(target, "wb") as out, urllib.request.urlopen(handin.url, timeout=TIMEOUT_S) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                size += len(block)
                if size > max_mb << 20:
                    raise _Refused(f"row {handin.row}: {handin.url} is over {max_mb} MB")
                digest.update(block)
                out.write(block)
    except urllib.error.HTTPError as exc:
        raise _Refused(f"row {handin.row}: {handin.url} answered HTTP {exc.code} ({exc.reason}): the link must "
                       "download without a login") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _Refused(f"row {handin.row}: {handin.url} is unreachable ({getattr(exc, 'reason', exc)})") from None
    if digest.hexdigest() != handin.sha256:
        raise _Refused(f"row {handin.row}: the zip's sha256 is {digest.hexdigest()[:12]}…, the form says "
                       f"{handin.sha256[:12]}…: a file changed after its hash was taken")
    return target


def _unpack(team: str, archive: Path, dest: Path) -> list[str]:
    """The zip's regular files, each one this team's own (`<team>.<ext>`, `<team>/…`), or _Refused naming the first
    that is not; exactly one `<team>.py`."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise _Refused("not a zip file") from None
    names = []
    with zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir():
                continue
            parts = Path(name).parts
            own = (len(parts) == 1 and parts[0].startswith(f"{team}.")) or (len(parts) > 1 and parts[0] == team)
            if name.startswith("/") or ".." in parts or "\\" in name or not own:
                raise _Refused(f"{name}: not one of {team}'s own files ({team}.py, {team}.<ext>, {team}/…)")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _Refused(f"{name}: a link; hand in the file itself")
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            names.append(name)
    if f"{team}.py" not in names:
        raise _Refused(f"no {team}.py in the zip (found: {', '.join(sorted(names)) or 'nothing'})")
    return sorted(names)
