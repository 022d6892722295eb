"""The audit on a real cohort: every cheat flagged by the check meant for it, no honest team flagged.

The cohort (tests/hostile/audit_cohort.py) is trained here, scored through the jails in the final phase with
the audit's views (public split, a Training sample, a private supplement, perturbed copies under a secret),
and audited from the records alone. Without the audit each cheat is scored as an ordinary record (the
memorisers at ~100 %), so these are hostile hand-ins that pass without it.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from fercomp import leaderboard as lb
from fercomp.audit.activations import aligned_statistic, lower_bound, signatures
from fercomp.audit.run import run_audit
from fercomp.audit_passes import SECRET_ENV, AuditPasses
from fercomp.config import AuditSection, CompetitionConfig
from fercomp.data.synth import SynthSpec, generate, write_csv
from fercomp.records import record_path
from fercomp.render.audit import to_html, to_json, to_markdown
from tests.hostile.audit_cohort import make_cohort
from tests.scoring_helpers import fast_config

pytestmark = pytest.mark.jail  # every test scores hand-ins in-process (through its module fixture)

SPLITS = ("Training", "PublicTest", "PrivateTest")
HONEST = [f"honest_{i:02d}" for i in range(16)] + ["example_a", "example_b"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    images, labels, split = generate(SynthSpec(n_train=1000, n_public=400, n_private=400, seed=11))
    write_csv(root / "fer.csv", images, labels, split)
    write_csv(root / "supplement.csv", *generate(SynthSpec(n_train=0, n_public=0, n_private=400, seed=99)))
    starter = make_cohort(root / "subs", images, labels, split, SPLITS)
    reader = write_secret_reader(root / "reader")  # scored beside the cohort (its jails run in the same pool), audited apart
    mp = pytest.MonkeyPatch()
    mp.setenv(SECRET_ENV, "a secret kept outside the repository")
    mp.setenv("FERCOMP_CACHE_DIR", str(root / "cache"))  # module scope: the per-test isolated cache is not set up yet
    mp.setenv("FERCOMP_EXPORT_CACHE_DIR", str(root / "exported"))
    try:
        config = replace(fast_config(root / "fer.csv", root / "results"), phase="final",
                         audit=AuditPasses(training_sample=400, supplement=str(root / "supplement.csv")))
        records, _ = lb.collect_and_score(lb.discover(root / "subs") + [starter, reader], root / "results", config, jobs=2)
    finally:
        mp.undo()
    reader_record = records.pop(reader.stem)
    record_path(root / "results", reader.stem, "PrivateTest").unlink()  # not a team of the cohort the audit command reads
    settings = AuditSection(starter_files=(str(root / "course" / "example.py"),))
    audit = run_audit(records, "starter", settings, "PrivateTest", root / "subs", starter)
    return {"root": root, "records": records, "audit": audit, "starter": starter, "reader": reader_record,
            "settings": settings}


def flagged(audit, check_id: str) -> set[tuple[str, ...]]:
    check = next(c for c in audit.checks if c.id == check_id)
    assert check.not_run is None, f"{check_id} did not run: {check.not_run}"
    return {f.teams for f in check.flagged}


def test_every_hand_in_was_scored_and_the_memorisers_score_near_perfectly(cohort):
    records = cohort["records"]
    assert all(r.status == "scored" for r in records.values()), {n: r.failure for n, r in records.items() if r.failure}
    assert records["memo_heldout"].accuracy > 0.99 and records["memo_all"].accuracy > 0.99
    assert max(records[t].accuracy for t in HONEST) < 0.9


def test_a_memoriser_of_the_held_out_split_is_flagged_by_the_split_gap_and_the_perturbation_probe(cohort):
    audit = cohort["audit"]
    assert ("memo_heldout",) in flagged(audit, "split_gap")
    assert ("memo_heldout",) in flagged(audit, "perturbation_drop")
    finding = next(f for c in audit.checks if c.id == "split_gap" for f in c.findings if f.teams == ("memo_heldout",))
    assert finding.value > 0.5 and finding.p_value < 1e-6 and "public" in finding.detail


def test_a_memoriser_of_both_test_splits_is_flagged_by_the_training_gap(cohort):
    audit = cohort["audit"]
    assert ("memo_both",) not in flagged(audit, "split_gap")  # both splits memorised: exchangeable
    assert ("memo_both",) in flagged(audit, "train_gap")
    assert ("memo_both",) in flagged(audit, "ceiling")


def test_only_the_private_supplement_separates_a_memoriser_of_every_public_image(cohort):
    audit = cohort["audit"]
    assert ("memo_all",) not in flagged(audit, "split_gap") and ("memo_all",) not in flagged(audit, "train_gap")
    assert ("memo_all",) in flagged(audit, "supplement_gap")


def test_copied_pairs_are_flagged_by_the_checks_meant_for_them(cohort):
    audit = cohort["audit"]
    assert ("copy_a", "copy_b") in flagged(audit, "identical_files")
    assert ("copy_a", "copy_b") in flagged(audit, "weights_cosine")
    assert ("copy_a", "copy_b") in flagged(audit, "behaviour")
    assert ("honest_03", "tuned") in flagged(audit, "weights_cosine")
    assert ("twin_a", "twin_b") in flagged(audit, "code_similarity")
    assert ("twin_a", "twin_b") in flagged(audit, "identical_files")
    assert ("copy_a", "copy_b") in flagged(audit, "code_similarity")  # renamed names do not hide copied code


def test_no_honest_team_is_flagged(cohort):
    audit = cohort["audit"]
    for check in audit.checks:
        for finding in check.flagged:
            honest = [t for t in finding.teams if t in HONEST]
            # an honest team is flagged only as the original of a copy, beside it
            assert not honest or finding.teams in COPIED, (check.id, finding)
    assert set(audit.under_review) == {"memo_heldout", "memo_both", "memo_all", "copy_a", "copy_b", "tuned", "honest_03",
                                       "twin_a", "twin_b", "robust_all", "buffer_copy", "honest_05", "permuted",
                                       "honest_07"}


COPIED = {("honest_03", "tuned"), ("buffer_copy", "honest_05"), ("honest_07", "permuted")}


def test_teams_that_start_from_the_course_example_are_not_copies(cohort):
    audit = cohort["audit"]
    for check in ("identical_files", "code_similarity", "weights_cosine", "weights_permuted", "activations_aligned",
                  "behaviour"):
        assert ("example_a", "example_b") not in flagged(audit, check), check
    # without the example declared a starter file, the same records name the two honest teams
    plain = run_audit(cohort["records"], "starter", AuditSection(), "PrivateTest", cohort["root"] / "subs", cohort["starter"])
    assert ("example_a", "example_b") in flagged(plain, "identical_files")


def test_a_robust_key_memoriser_of_every_public_split_is_named_by_its_confidence(cohort):
    audit = cohort["audit"]
    # every split it could be compared with is memorised, and 15 % is too little for the supplement's accuracy gap
    for check in ("split_gap", "train_gap", "ceiling", "supplement_gap", "perturbation_drop"):
        assert ("robust_all",) not in flagged(audit, check), check
    assert ("robust_all",) in flagged(audit, "confidence_shape")
    finding = next(f for c in audit.checks if c.id == "confidence_shape" for f in c.findings if f.teams == ("robust_all",))
    assert "supplement" in finding.detail and finding.p_value < 1e-6
    kinds = next(f for c in audit.checks if c.id == "perturbation_kinds" for f in c.findings if f.teams == ("robust_all",))
    assert "rotate" in kinds.detail and "cohort" in kinds.detail  # each kind's drop beside the cohort's


def test_a_copy_kept_in_buffers_is_seen_and_noted(cohort):
    audit = cohort["audit"]
    assert ("buffer_copy", "honest_05") in flagged(audit, "weights_cosine")
    assert any(n.startswith("robust_all keeps") and "'keys'" in n for n in audit.notes), audit.notes
    assert not any(n.startswith(("honest_", "example_")) for n in audit.notes)


def test_a_permuted_and_fine_tuned_copy_is_named_by_what_its_units_compute(cohort):
    audit = cohort["audit"]
    assert ("honest_07", "permuted") in flagged(audit, "activations_aligned")
    # without this check nothing names it: neither weight sketch (not the plain order, and after this much
    # fine-tuning not the canonical one either), nor its behaviour
    named_by = [c.id for c in audit.checks if ("honest_07", "permuted") in {f.teams for f in c.flagged}]
    assert named_by == ["activations_aligned"], named_by
    finding = next(f for c in audit.checks if c.id == "activations_aligned" for f in c.findings
                   if f.teams == ("honest_07", "permuted"))
    assert "13 units: mean r" in finding.detail and "17 units: mean r" in finding.detail


def test_honest_teams_of_the_same_architecture_are_not_named_by_their_units(cohort):
    # every record of the final phase carries its units' signatures, taken on the private supplement's faces
    probes = {r.unit_signatures["probe"]["source"] for r in cohort["records"].values() if r.status == "scored"}
    assert probes == {"private supplement"}, probes
    check = next(c for c in cohort["audit"].checks if c.id == "activations_aligned")
    # it names the other copies too (copy_a & copy_b, tuned, buffer_copy), and no honest pair
    assert {f.teams for f in check.flagged} <= COPIED | {("copy_a", "copy_b")}, check.flagged
    records, threshold = cohort["records"], cohort["settings"].activations_aligned
    for a, b in (("example_a", "example_b"), ("twin_a", "twin_b")):  # trained apart from the same code
        value, layers = aligned_statistic(signatures(records[a])[2], signatures(records[b])[2])
        assert layers and lower_bound(value, sum(n for n, _, _ in layers)) < threshold, (a, b, value, layers)


def test_the_outputs_carry_the_cohort_beside_each_value(cohort, tmp_path):
    audit = cohort["audit"]
    md = to_markdown(audit)
    assert "## Held-out split against the public split (`split_gap`)" in md and "cohort: median" in md
    assert "memo_heldout" in to_html(audit)
    doc = json.loads(to_json(audit))
    assert doc["schema"] == "fercomp.audit/1" and "memo_all" in doc["under_review"]


def test_the_board_marks_teams_under_review_and_withholds_only_when_asked(cohort):
    records, audit = cohort["records"], cohort["audit"]
    board = lb.build(records, "starter", CompetitionConfig(), "PrivateTest", audit=audit)
    row = next(m for m in board.marks if m.team == "memo_heldout")
    assert row.accuracy_mark > 0 and any("under review (audit: split_gap" in n for n in row.notes)
    assert board.under_review == audit.under_review
    strict = replace(CompetitionConfig(), audit=AuditSection(withhold=True))
    held = lb.build(records, "starter", strict, "PrivateTest", audit=audit)
    rows = {m.team: m for m in held.marks}
    assert rows["memo_heldout"].accuracy_mark == 0 and rows["memo_heldout"].efficiency_mark == 0
    # a pair's evidence with no hand-in order withholds from neither: only the teams flagged on their own evidence
    assert set(audit.withheld()) == {"memo_heldout", "memo_both", "memo_all", "robust_all"}
    assert not withheld_note(rows["copy_a"]) and not withheld_note(rows["honest_03"])
    # the withheld memorisers no longer set the accuracy scale: the best of the rest gets the full mark
    best = max((t for t in records if t != "starter" and t not in audit.withheld()), key=lambda t: records[t].accuracy)
    assert rows[best].accuracy_mark == pytest.approx(10.0)


def withheld_note(row) -> bool:
    """Whether the board withheld this team's marks (a team below the baseline has a zero mark, but keeps it)."""
    return any(note.startswith("marks withheld") for note in row.notes)


def test_with_the_hand_in_order_the_copy_loses_its_marks_and_the_source_keeps_them(cohort):
    import datetime as dt

    records = cohort["records"]
    start = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    order = ["honest_03", "copy_a", "twin_b", "tuned", "copy_b", "twin_a"]  # tuned fine-tuned honest_03's weights
    times = {team: start + dt.timedelta(hours=order.index(team)) for team in order}
    audit = run_audit(records, "starter", AuditSection(), "PrivateTest", cohort["root"] / "subs", cohort["starter"],
                      handed_in=times)
    assert {"tuned", "copy_b", "twin_a"} <= set(audit.withheld())
    assert not {"honest_03", "copy_a", "twin_b"} & set(audit.withheld())
    strict = replace(CompetitionConfig(), audit=AuditSection(withhold=True))
    rows = {m.team: m for m in lb.build(records, "starter", strict, "PrivateTest", audit=audit).marks}
    assert rows["tuned"].accuracy_mark == 0 and withheld_note(rows["tuned"]) and not withheld_note(rows["honest_03"])
    assert any("weights_cosine with tuned, honest_03 handed in first" in n for n in rows["honest_03"].notes)


def test_the_audit_command_reads_the_records_and_writes_every_format(cohort, cli, tmp_path):
    root = cohort["root"]
    args = ["audit", "--results", str(root / "results"), "--submissions", str(root / "subs"), "--baseline",
            str(cohort["starter"]), "--out", str(tmp_path)]
    code, out, err = cli(*args)
    assert code == 0, err
    assert "under review" in out and (tmp_path / "audit-PrivateTest.html").is_file()
    assert cli(*args, "--strict")[0] == 1
    code, _, err = cli("audit", "--results", str(tmp_path / "nothing"))
    assert code == 2 and err.count("\n") == 1 and "no such results folder" in err


SECRET_READER = '''import os
import torch
from torch import nn

PREPROCESS = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}
SEEN = {k: v for k, v in os.environ.items() if "AUDIT" in k or "SECRET" in k}
if SEEN:  # with the secret a memoriser could undo the perturbations it chose; fail loudly if it ever leaks
    raise RuntimeError(f"the audit secret reached the hand-in: {sorted(SEEN)}")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2304, 7)

    def forward(self, x):
        return self.fc(x.flatten(1))
'''


def write_secret_reader(folder):
    """A hand-in that fails loudly if the audit's secret is in its environment; zero weights, so it scores."""
    import torch

    folder.mkdir()
    (folder / "reader.py").write_text(SECRET_READER)
    torch.save({"fc.weight": torch.zeros(7, 2304), "fc.bias": torch.zeros(7)}, folder / "reader.pt")
    return folder / "reader.py"


def test_the_perturbation_secret_never_reaches_a_jailed_process(cohort):
    record = cohort["reader"]  # scored in the final phase with the secret set in the trusted parent
    assert record.status == "scored", record.failure
    assert record.audit_views["perturbed"]["images"] == record.data["size"]  # the probe ran, with the secret


def test_the_honest_cohorts_audit_is_byte_identical_under_any_hash_seed(cohort, tmp_path):
    """copydetect hashes with Python's salted hash(): without the stable fingerprints (fercomp/audit/fingerprint.py)
    code_similarity, and so the report, changed with PYTHONHASHSEED on the same records."""
    import os
    import shutil
    import subprocess
    import sys

    root = cohort["root"]
    results = tmp_path / "results"
    results.mkdir()
    for path in (root / "results").glob("*.json"):
        if path.stem.split(".")[0] in HONEST or path.name.startswith("starter"):
            shutil.copy(path, results / path.name)
    assert len(list(results.glob("*.json"))) == len(HONEST) + 1
    outputs = []
    for seed in ("0", "1", "12345"):
        out = tmp_path / f"seed-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "fercomp", "audit", "--results", str(results), "--submissions",
                               str(root / "subs"), "--baseline", str(cohort["starter"]), "--format", "json",
                               "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append((out / "audit-PrivateTest.json").read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    doc = json.loads(outputs[0])
    similarity = next(c for c in doc["checks"] if c["id"] == "code_similarity")
    assert similarity["not_run"] is None and similarity["findings"]  # the check ran and listed its closest pairs
