"""Competition phases: which split a board or a score may touch.

- public: the live board during the competition, on `competition.public_split`. It never scores or
  publishes the held-out split, whatever `--split` says.
- final: the held-out split (`competition.held_out`), once. Before `[phases] reveal` it needs an
  explicit `before_reveal`, so a scheduled job cannot publish the final ranking early by accident.
"""

from __future__ import annotations

import datetime as dt

from fercomp.config import CompetitionConfig, reveal_time
from fercomp.errors import UsageError

PHASES = ("public", "final")


def phase_split(config: CompetitionConfig, phase: str, split: str | None = None, before_reveal: bool = False,
                now: dt.datetime | None = None) -> str:
    """The split `phase` scores: the public split, or the held-out one (checked against the reveal date)."""
    if phase not in PHASES:
        raise UsageError(f"--phase {phase}: expected public or final")
    comp = config.competition
    if phase == "public":
        if split and split.lower() == comp.held_out.lower():
            raise UsageError(f"--split {split} is the held-out split: only --phase final scores it")
        return split or comp.public_split
    if split and split.lower() != comp.held_out.lower():
        raise UsageError(f"--phase final scores the held-out split {comp.held_out}, not {split}; drop --split")
    reveal = reveal_time(config)
    now = now or dt.datetime.now(dt.timezone.utc)
    if reveal is not None and now < reveal and not before_reveal:
        raise UsageError(f"the final phase is revealed on {config.phases.reveal} ({config.source}); pass --before-reveal "
                         "to build it earlier, and keep its outputs private")
    return comp.held_out


def guard_public(phase: str | None, split: str, held_out: str | None) -> None:
    """Refuse the held-out split in the public phase, once the data has said which split that is."""
    if phase == "public" and held_out is not None and split == held_out:
        raise UsageError(f"split {split} is this data's held-out split: only the final phase scores it")
