"""Honest ranks on a board built from records: tie groups, tie-aware marks, the efficiency schemes, every
format; and `fercomp compare` on two records, with the p-value computed by hand."""

import csv
import io
import json
from dataclasses import replace
from math import comb

import pytest

from fercomp.config import CompetitionConfig, MarksSection
from fercomp.leaderboard import build
from fercomp.records import read_record, write_record
from fercomp.render import files
from fercomp.render.terminal import print_leaderboard
from tests.test_marks import first, record, with_predictions

N = 400


def two_sided(k: int, n: int) -> float:
    """The exact binomial two-sided p-value for k of n at p = ½, from the definition."""
    tail = sum(comb(n, i) for i in range(0, min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def team(name, right, gflops=0.1, latency_ms=1.0, params=1000, ops=10**6):
    rec = replace(record(name, 0.0, gflops=gflops), latency={"latency_ms_p50": latency_ms}, params_total=params,
                  params_bits=32 * params, flops={"micronet": {"ops": ops}}, weight_bytes=4 * params)
    return with_predictions(rec, right)


def cohort():
    """top 280/400; close 275 (10 vs 5 discordant with top: a tie); third 230; lucky 204 (4 above the baseline's 200)."""
    return {"top": team("top", first(280, N), gflops=0.2, latency_ms=2.0, params=2000, ops=3 * 10**6),
            "close": team("close", first(275, N, start=10), gflops=0.1, latency_ms=1.0, params=1000, ops=10**6),
            "third": team("third", first(230, N), gflops=0.05, latency_ms=4.0, params=500, ops=4 * 10**6),
            "lucky": team("lucky", first(204, N), gflops=0.3, latency_ms=1.5, params=4000, ops=2 * 10**6),
            "base": team("base", first(200, N), gflops=0.4, latency_ms=3.0, params=8000, ops=8 * 10**6)}


def board(**marks):
    return build(cohort(), "base", CompetitionConfig(marks=MarksSection(**marks)), "PrivateTest", phase="final")


def by_team(b):
    return {m.team: m for m in b.marks}


def test_tie_groups_along_the_board_follow_the_exact_tests():
    b = board()
    rows = by_team(b)
    assert [m.team for m in b.marks] == ["top", "close", "third", "lucky"]
    assert [rows[t].tie_group for t in ("top", "close", "third", "lucky")] == [1, 1, 2, 3]
    neighbours = {(c.a, c.b): c for c in b.comparisons if c.kind == "neighbour"}
    top_close = neighbours[("top", "close")]
    assert (top_close.only_a, top_close.only_b) == (10, 5)
    assert top_close.p_value == pytest.approx(two_sided(5, 15), abs=1e-12)
    # Holm over the three neighbour tests: the largest raw p is multiplied by 1 and kept ≥ the others
    assert top_close.p_holm == pytest.approx(two_sided(5, 15)) and not top_close.significant
    assert neighbours[("close", "third")].significant and neighbours[("third", "lucky")].significant
    lucky = next(c for c in b.comparisons if c.kind == "baseline" and c.a == "lucky")
    assert (lucky.only_a, lucky.only_b) == (4, 0) and lucky.p_value == pytest.approx(2 / 16)
    assert lucky.p_holm == pytest.approx(2 / 16) and not lucky.significant  # largest of four: × 1


def test_raw_marks_ignore_the_ties_and_group_marks_share_the_best():
    raw, grouped = by_team(board()), by_team(board(ties="group"))
    assert raw["top"].accuracy_mark == 10 and raw["close"].accuracy_mark == round(10 * 75 / 80, 2)
    assert grouped["close"].accuracy_mark == 10 and "tie group's best" in " ".join(grouped["close"].notes)
    for name in ("top", "third", "lucky"):
        assert grouped[name].accuracy_mark == pytest.approx(raw[name].accuracy_mark)


def test_beating_the_baseline_can_require_significance():
    raw, strict = by_team(board()), by_team(board(beat_baseline="significant"))
    assert raw["lucky"].accuracy_mark == round(10 * 4 / 80, 2)
    assert strict["lucky"].accuracy_mark == 0.0
    assert "not significantly" in " ".join(strict["lucky"].notes)
    assert strict["third"].accuracy_mark == pytest.approx(raw["third"].accuracy_mark)


def test_efficiency_schemes_by_hand():
    teams = cohort()
    acc = {n: r.accuracy for n, r in teams.items()}
    per_gflop = by_team(board())
    assert per_gflop["third"].efficiency == pytest.approx(100 * acc["third"] / 0.05)
    per_ms = by_team(board(efficiency_scheme="acc_per_ms"))
    assert per_ms["close"].efficiency == pytest.approx(100 * acc["close"] / 1.0)
    assert per_ms["close"].efficiency_mark == 10  # the best accuracy per millisecond
    micronet = by_team(board(efficiency_scheme="micronet"))
    # parameters ÷ 8000 + operations ÷ 8e6; lower is better
    expected = {"top": 2000 / 8000 + 3 / 8, "close": 1000 / 8000 + 1 / 8, "third": 500 / 8000 + 4 / 8, "lucky": 4000 / 8000 + 2 / 8}
    for name, value in expected.items():
        assert micronet[name].efficiency == pytest.approx(value)
    assert micronet["close"].efficiency_mark == 10  # the lowest score
    # linear in the improvement below the baseline's 2.0
    assert micronet["lucky"].efficiency_mark == round(10 * (2 - 0.75) / (2 - 0.25), 2)
    assert micronet["close"].efficiency_interval is None  # no accuracy in a MicroNet score
    assert per_ms["close"].efficiency_interval[0] < per_ms["close"].efficiency < per_ms["close"].efficiency_interval[1]


def test_micronet_precision_credit_halves_sixteen_bit_parameters():
    teams = cohort()
    teams["close"] = replace(teams["close"], params_bits=16 * 1000)
    cfg = CompetitionConfig(marks=MarksSection(efficiency_scheme="micronet", micronet_precision_credit=True))
    rows = by_team(build(teams, "base", cfg, "PrivateTest"))
    assert rows["close"].efficiency == pytest.approx(500 / 8000 + 1 / 8)


@pytest.mark.parametrize("scheme,header", [("acc_per_gflop", "efficiency"), ("micronet", "MicroNet score"),
                                           ("acc_per_ms", "accuracy %/ms")])
def test_every_format_names_the_scheme_and_shows_groups_and_intervals(scheme, header, capsys):
    b = board(efficiency_scheme=scheme, ties="group")
    md, tex, page = files.render(b, "md"), files.render(b, "latex"), files.render(b, "html")
    for text in (md, tex, page):
        escaped = (header.replace("%", "\\%"), scheme.replace("_", "\\_")) if text is tex else (header, scheme)
        assert escaped[0] in text and "tie group" in text and escaped[1] in text
        assert "McNemar" in text and "Wilson" in text
    assert "|" in md and "| 1           | close" in md  # close shares top's group
    print_leaderboard(b)
    terminal = capsys.readouterr().out
    assert header.split()[0] in terminal and "tie" in terminal and scheme in terminal
    rows = {r["team"]: r for r in csv.DictReader(io.StringIO(files.render(b, "csv")))}
    assert rows["close"]["efficiency_scheme"] == scheme and rows["close"]["tie_group"] == "1"
    assert float(rows["close"]["accuracy_low"]) < float(rows["close"]["accuracy"]) < float(rows["close"]["accuracy_high"])
    assert float(rows["close"]["micronet"]) == pytest.approx(0.25) and float(rows["close"]["acc_per_ms"]) == pytest.approx(68.75)
    doc = json.loads(files.render(b, "json"))
    assert doc["efficiency_scheme"]["name"] == scheme and len(doc["comparisons"]) == 3 + 4
    assert "error" not in page and "teams (95 % CI)" in page  # the scatter's error bars are labelled in its legend


def test_records_without_predictions_are_ranked_but_not_tested():
    teams = cohort()
    teams["third"] = replace(teams["third"], predictions=None)
    b = build(teams, "base", CompetitionConfig(), "PrivateTest")
    assert any(n.startswith("third: no paired tests") for n in b.notes)
    assert [m.team for m in b.marks] == ["top", "close", "third", "lucky"]
    assert by_team(b)["third"].p_baseline is None


def test_compare_prints_the_paired_analysis(cli, tmp_path):
    teams = cohort()
    for name in ("top", "close"):
        write_record(teams[name], tmp_path)
    code, out, err = cli("compare", tmp_path / "top.PrivateTest.json", tmp_path / "close.PrivateTest.json", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["only_a_correct"], result["only_b_correct"]) == (10, 5)
    assert result["mcnemar_exact_p"] == pytest.approx(two_sided(5, 15), abs=1e-12)
    assert result["verdict"] == "not significantly different"
    assert result["difference"] == pytest.approx(5 / N)
    code, out, err = cli("compare", tmp_path / "top.PrivateTest.json", tmp_path / "close.PrivateTest.json")
    assert code == 0 and "exact McNemar p" in out and "not significantly different" in out


def test_compare_refuses_records_of_other_images(cli, tmp_path):
    teams = cohort()
    write_record(teams["top"], tmp_path)
    other = with_predictions(record("other", 0.0), first(100, 300))
    write_record(other, tmp_path)
    code, out, err = cli("compare", tmp_path / "top.PrivateTest.json", tmp_path / "other.PrivateTest.json")
    assert code == 2 and err.count("\n") == 1 and "different sample ids" in err
    failed = replace(record("broken", status="failed"), submission={"name": "broken", "sha256": None},
                     data={"split": "PrivateTest", "size": 0})
    write_record(failed, tmp_path)
    code, _, err = cli("compare", tmp_path / "top.PrivateTest.json", tmp_path / "broken.PrivateTest.json")
    assert code == 2 and "not scored" in err


def test_altered_predictions_are_refused(tmp_path):
    rec = cohort()["top"]
    blob = dict(rec.predictions)
    blob["sha256"] = "0" * 64
    write_record(replace(rec, predictions=blob), tmp_path)
    from fercomp.comparisons import correctness
    from fercomp.errors import RecordError

    with pytest.raises(RecordError, match="altered"):
        correctness(read_record(tmp_path / "top.PrivateTest.json"))


def test_marks_config_keys_are_validated(tmp_path):
    from fercomp.config import load_config
    from fercomp.errors import UsageError

    path = tmp_path / "fercomp.toml"
    path.write_text('[marks]\nefficiency_scheme = "flops"\n')
    with pytest.raises(UsageError, match="efficiency_scheme = 'flops' must be one of acc_per_gflop, micronet, acc_per_ms"):
        load_config(path)
    path.write_text("[marks]\nalpha = 1.5\n")
    with pytest.raises(UsageError, match="alpha"):
        load_config(path)
    path.write_text('[marks]\nties = "group"\nbeat_baseline = "significant"\nalpha = 0.01\n')
    assert load_config(path).marks.ties == "group" and load_config(path).marks.alpha == 0.01


def test_the_docs_worked_example_is_this_cohort():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "marks-and-statistics.md").read_text()
    section = text[text.index("Worked example (the cohort of `tests/test_honest_ranks.py`"):]
    table = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()][:4]
    raw, grouped, strict = by_team(board()), by_team(board(ties="group")), by_team(board(beat_baseline="significant"))
    for line in table:
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        name = cells[2]
        low, high = raw[name].accuracy_interval
        assert cells[:2] == [str(raw[name].rank), str(raw[name].tie_group)]
        assert cells[3:5] == [f"{100 * raw[name].accuracy:.2f}", f"{100 * low:.2f}–{100 * high:.2f}"]
        assert cells[5:] == [f"{rows[name].accuracy_mark:.2f}" for rows in (raw, grouped, strict)]
    assert "= 0.302" in section and f"{two_sided(5, 15):.3f}" == "0.302"
