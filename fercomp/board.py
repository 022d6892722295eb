"""A board: the plain, typed value that `fercomp.leaderboard` builds and `fercomp.render` formats.

Renderers import this, never the module that scored and ranked, so a renderer cannot reach scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fercomp.config import CompetitionConfig
from fercomp.marks import Comparison, TeamMarks
from fercomp.records import ScoreRecord
from fercomp.roster import StudentGrade


@dataclass
class Leaderboard:
    split: str
    baseline: ScoreRecord
    teams: dict[str, ScoreRecord]
    marks: list[TeamMarks]
    config: CompetitionConfig
    notes: list[str] = field(default_factory=list)  # what the instructor must know (missing teams, rescored, …)
    phase: str = "final"  # public (live board) or final (held-out split)
    refused: list[str] = field(default_factory=list)  # records left out, one named line each
    grades: list[StudentGrade] = field(default_factory=list)  # per student, when a roster was given
    comparisons: list[Comparison] = field(default_factory=list)  # neighbours and against the baseline, Holm-adjusted
    under_review: list[str] = field(default_factory=list)  # teams the audit flagged (fercomp/audit)

    @property
    def final_mark_maximum(self) -> float:
        """What a final mark is out of: accuracy + efficiency (+ report, when the board has report marks)."""
        marks = self.config.marks
        with_report = any(m.report_mark is not None for m in self.marks)
        return marks.accuracy + marks.efficiency + (marks.report if with_report else 0.0)
