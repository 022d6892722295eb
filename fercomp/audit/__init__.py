"""`fercomp audit`: evidence, with its numbers, that a result was fitted to the test set or copied.

A reader of score records, like marks and the leaderboard: it computes statistics and never re-measures.
Checks (each documented in `CHECKS` with its statistic and what flags it):
- fitted to the test set, per team (fercomp/audit/fitted.py): split_gap, train_gap, ceiling,
  supplement_gap, perturbation_drop;
- copied or colluding, per pair (fercomp/audit/pairs.py): identical_files, weights_cosine, behaviour,
  code_similarity.
A flag is a reason to look, not a verdict: marks change only with `[audit] withhold = true`.
"""

from __future__ import annotations

from fercomp.audit.model import CHECKS, Audit, Check, Finding

__all__ = ["CHECKS", "Audit", "Check", "Finding"]  # run_audit lives in fercomp.audit.run (renderers need only these)
