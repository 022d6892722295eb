"""The text of a small course CSV (a roster, hand-in times) read for one-line errors: a missing file or one not
saved as UTF-8 names the file and what to do, never a traceback."""

from __future__ import annotations

from pathlib import Path

from fercomp.errors import UsageError


def read_csv_text(path: Path, what: str, setting: str = "") -> str:
    """`path`'s text (a leading BOM dropped, as spreadsheets write it); `what` names the file in errors."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what} file{f' ({setting})' if setting else ''}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start}); save the {what} as CSV UTF-8") from None
