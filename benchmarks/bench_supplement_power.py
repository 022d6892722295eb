"""The supplement test on simulated cohorts: how often a partial memoriser is caught, and how often an honest team
is flagged, with the supplement's noise counted once (the audit's rule) and counted twice (the rule it replaced:
the gap's own standard error added to a cohort spread that already holds it).

Cohorts as in tests/test_audit_evidence.py: honest teams whose errors are correlated through each face's
difficulty, one supplement shift shared by every team, a little real variation per team, and one memoriser that
overrides a share of the held-out faces with their labels (worth about share × (1 − accuracy) on the board).

Run: python benchmarks/bench_supplement_power.py [--cohorts 200] [--teams 20] [--faces 1000]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' simulated cohort

from fercomp.audit import fitted  # noqa: E402
from fercomp.audit.statistics import cohort, holm, normal_sf  # noqa: E402
from tests.test_audit_evidence import simulated_cohort  # noqa: E402

ALPHA = 0.001


def counted_twice(records: dict) -> set[str]:
    """The replaced rule: z = (gap − median) / √(own se² + spread²)."""
    gaps = {}
    for team, r in records.items():
        view, a = r.audit_views["supplement"], r.accuracy
        s, n = view["accuracy"], r.data["size"]
        gaps[team] = (a - s, math.sqrt(a * (1 - a) / n + s * (1 - s) / view["images"]))
    centre = cohort([g for g, _ in gaps.values()])
    p = [normal_sf((g - centre["median"]) / math.sqrt(se**2 + centre["spread"] ** 2)) for g, se in gaps.values()]
    return {team for team, q in zip(gaps, holm(p)) if q < ALPHA}


def rates(cohorts: int, teams: int, faces: int, share: float) -> list:
    rng = np.random.default_rng(1)
    found = {"once": [0, 0], "twice": [0, 0]}
    gain = []
    for _ in range(cohorts):
        records = simulated_cohort(rng, teams, share, faces)
        honest = np.median([r.accuracy for t, r in records.items() if t != "memo"])
        gain.append(share * (1 - honest))
        once = {f.teams[0] for f in fitted.supplement_gap(records, ALPHA).flagged}
        for rule, flagged in (("once", once), ("twice", counted_twice(records))):
            found[rule][0] += "memo" in flagged
            found[rule][1] += len(flagged - {"memo"})
    return [f"{share:.0%}", f"{100 * np.mean(gain):.1f}", f"{found['once'][0] / cohorts:.1%}",
            f"{found['twice'][0] / cohorts:.1%}", f"{found['once'][1]}/{cohorts * teams}", f"{found['twice'][1]}/{cohorts * teams}"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cohorts", type=int, default=200)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--faces", type=int, default=1000)
    args = parser.parse_args()
    print(f"{args.cohorts} simulated cohorts of {args.teams} honest teams + 1 memoriser, {args.faces}-face supplement, "
          f"3,589 held-out images, alpha {ALPHA} (Holm):")
    rows = [rates(args.cohorts, args.teams, args.faces, share) for share in (0.10, 0.15, 0.20, 0.25, 0.30)]
    print(tabulate(rows, headers=["faces overridden", "points gained", "caught (once)", "caught (twice)",
                                  "honest flagged (once)", "honest flagged (twice)"]))


if __name__ == "__main__":
    main()
