"""Gradescope's results.json, built from fercomp's check report and score records. Pure: no torch, no jails.

The format is Gradescope's autograder specification (gradescope-autograders.readthedocs.io, "specs"):
top-level `score`, `output`, `tests[]` (`name`, `status` passed|failed, `output`, `visibility`) and
`leaderboard[]` (`name`, `value`, `order` asc|desc). Its JSON Schema, written from that page, is
docs/schema/gradescope-results.schema.json; the tests validate every results.json against it.

Rate limits follow the specification's own recipe (submission_metadata.md): count the earlier submissions
in the 24 hours before this one's `created_at` (never the clock: a re-run must decide the same), and when
the limit is reached, show the previous results with a message. Gradescope gives the results of the latest
previous submission only, so every results.json carries the times of the runs that counted so far
(`extra_data.fercomp.counted_runs`): failed runs and rate-limited runs are not among them.
"""

from __future__ import annotations

import copy
import datetime as dt

from fercomp.marks import efficiency_of
from fercomp.records import ScoreRecord

WINDOW = dt.timedelta(hours=24)
MAX_TEST_OUTPUT = 4000  # characters per test's output: a hand-in's exception message can be any length
_SCHEMES = {"acc_per_gflop": ("Efficiency (accuracy % / GFLOPs)", "desc"), "acc_per_ms": ("Efficiency (accuracy % / ms)", "desc"),
            "micronet": ("Efficiency (MicroNet score, lower is better)", "asc")}


def test(name: str, passed: bool, output: str = "", visibility: str = "visible") -> dict:
    """One tests[] entry: PASS/FAIL shown by `status`; points come from the top-level score."""
    text = output if len(output) <= MAX_TEST_OUTPUT else output[: MAX_TEST_OUTPUT - 20] + " … (truncated)"
    return {"name": name, "status": "passed" if passed else "failed", "output": text, "visibility": visibility}


def check_tests(items: list[tuple[str, bool, str]]) -> list[dict]:
    """`fercomp check`'s rules, each a visible test with its message."""
    return [test(f"check: {name}", ok, detail) for name, ok, detail in items]


def score_line(record: ScoreRecord, baseline: ScoreRecord | None) -> str:
    """What a student reads about one scored split: the figures, and the baseline's beside them."""
    if record.status != "scored":
        failure = record.failure or {}
        return f"failed: {failure.get('reason', 'unknown')}: {failure.get('detail', '')}"
    low, high = (record.intervals.get("accuracy_wilson") or [None, None])[:2]
    ci = f" (95 % CI {100 * low:.2f}–{100 * high:.2f})" if low is not None else ""
    text = (f"accuracy {100 * record.accuracy:.2f} %{ci} on {record.data.get('size')} images of {record.split}; "
            f"{record.gflops:.6f} GFLOPs; efficiency {record.efficiency:.1f} (accuracy % / GFLOPs)")
    if record.flags:
        text += "; flagged: " + "; ".join(record.flags)
    if baseline is not None and baseline.status == "scored":
        text += (f". Baseline: {100 * baseline.accuracy:.2f} %, {baseline.gflops:.6f} GFLOPs, "
                 f"efficiency {baseline.efficiency:.1f}")
    return text


def leaderboard(record: ScoreRecord, baseline: ScoreRecord, scheme: str = "acc_per_gflop") -> list[dict]:
    """Gradescope's leaderboard entries from the public split: accuracy (higher first), GFLOPs (lower first),
    efficiency under the course's scheme (its own direction)."""
    entries = [{"name": "Accuracy (%)", "value": round(100 * record.accuracy, 2), "order": "desc"},
               {"name": "GFLOPs", "value": float(f"{record.gflops:.6g}"), "order": "asc"}]
    value = efficiency_of(record, baseline, scheme)
    if value is not None:
        name, order = _SCHEMES[scheme]
        entries.append({"name": name, "value": float(f"{value:.6g}"), "order": order})
    return entries


def parse_time(text: str) -> dt.datetime:
    """Gradescope's ISO times (with an offset; 3.10's fromisoformat wants at most 6 fractional digits)."""
    text = text.strip().replace("Z", "+00:00")
    if "." in text:
        head, tail = text.split(".", 1)
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[:min(digits, 6)]}{tail[digits:]}"
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def counted_runs(metadata: dict) -> list[str]:
    """The submission times of earlier runs that counted: carried in the latest previous results, else
    (results fercomp did not write) every earlier submission that was not an autograder error."""
    previous = _previous(metadata)
    latest = max(previous, key=lambda p: parse_time(p["submission_time"]), default=None)
    carried = (((latest or {}).get("results") or {}).get("extra_data") or {}).get("fercomp", {}).get("counted_runs")
    if isinstance(carried, list):
        return [str(t) for t in carried]
    return [p["submission_time"] for p in previous if not p.get("autograder_error")]


def _previous(metadata: dict) -> list[dict]:
    """The earlier submissions that say when they were made (anything else in the list is ignored)."""
    return [p for p in metadata.get("previous_submissions") or [] if isinstance(p, dict) and isinstance(p.get("submission_time"), str)]


def rate_limit(metadata: dict, daily_limit: int) -> tuple[bool, list[str], str]:
    """(allowed, counted runs in the window before created_at, a sentence for the student)."""
    if not metadata.get("created_at"):
        return True, [], "no submission time in submission_metadata.json: no rate limit applied"
    now = parse_time(metadata["created_at"])
    window = sorted((t for t in counted_runs(metadata) if now - WINDOW < parse_time(t) <= now), key=parse_time)
    if daily_limit <= 0:
        return True, window, "no daily limit"
    if len(window) < daily_limit:
        return True, window, f"run {len(window) + 1} of {daily_limit} that count in the 24 hours before this submission"
    frees = parse_time(window[len(window) - daily_limit]) + WINDOW
    return False, window, (f"daily limit reached: {len(window)} scored runs in the 24 hours before this submission "
                           f"(limit {daily_limit}); this one was not run and does not count. The next run counts from "
                           f"{frees.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.")


def rate_limited(metadata: dict, window: list[str], message: str) -> dict:
    """The latest previous results with the message on top (the student keeps their last score and board
    entry, as Gradescope's guide suggests), or a zero score when there are none."""
    previous = [p for p in _previous(metadata) if isinstance(p.get("results"), dict)]
    latest = max(previous, key=lambda p: parse_time(p["submission_time"]), default=None)
    results = copy.deepcopy(latest["results"]) if latest else {"score": 0.0, "tests": []}
    results["output"] = message + ("\n\nYour previous results:\n" + str(results.get("output", "")) if latest else "")
    results["extra_data"] = {**(results.get("extra_data") or {}), "fercomp": {"counted": False, "counted_runs": window}}
    return results


def assemble(tests: list[dict], output: str, counted: bool, points: float, created_at: str | None, earlier: list[str],
             board: list[dict] | None = None, extra: dict | None = None) -> dict:
    """The whole results.json: `points` only for a counted (checked and scored) run; `earlier` are the counted
    runs in the window before this one (older ones can never matter again: submission times only grow)."""
    runs = earlier + ([created_at] if counted and created_at else [])
    results = {"score": float(points) if counted else 0.0, "output": output, "tests": tests,
               "extra_data": {"fercomp": {"counted": counted, "counted_runs": runs, **(extra or {})}}}
    if board:
        results["leaderboard"] = board
    return results


def failure(output: str, detail: str = "", earlier: list[str] | None = None) -> dict:
    """A run that could not grade (the grader's problem, or a hand-in it refused before running it): a
    readable zero that does not count towards the daily limit, and carries the runs that did."""
    tests = [test("autograder", False, detail or output)]
    return assemble(tests, output, counted=False, points=0.0, created_at=None, earlier=list(earlier or []))
