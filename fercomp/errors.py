"""The FercompError tree: each error carries a one-line user-facing message and an exit code."""

from __future__ import annotations


class FercompError(Exception):
    """A user-facing failure: printed as one line on stderr, never as a traceback."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(FercompError):
    """Bad options or arguments."""


class DataError(FercompError):
    """A data source that cannot be read as FER-2013 (names the file and row or path)."""


class SubmissionError(FercompError):
    """A submission that does not meet the contract (exit code 1: the submission failed).

    `reason` is the short, stable name of what went wrong (recorded in failed score records).
    """

    exit_code = 1

    def __init__(self, message: str, reason: str = "contract") -> None:
        super().__init__(message)
        self.reason = reason


class RecordError(FercompError):
    """A score record that is unreadable, of another schema version, or does not match its files."""
