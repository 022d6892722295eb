"""The command line behaves alike everywhere: --version, one JSON document per --json, validated
--device, and one named line (never a traceback) for every mistake, including output that cannot be written."""

import json
import shutil

import pytest

from tests.conftest import lines
from tests.scoring_helpers import FIXTURES

FAST = ["--latency-queries", "2", "--latency-seconds", "0"]


def one_line_error(code: int, err: str, words: str) -> None:
    assert code == 2 and len(lines(err)) == 1 and words in err and "Traceback" not in err, err


def test_version(cli):
    from fercomp import __version__

    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"fercomp {__version__}"


@pytest.mark.jail
def test_json_is_one_document(cli, tmp_path, small_csv):
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("a", "b"):
        shutil.copy(FIXTURES / "rule_model.py", folder / f"{name}.py")
    code, out, err = cli("score", folder / "a.py", folder / "b.py", "--data", small_csv, "--out", tmp_path / "r", "--json", *FAST)
    docs = json.loads(out)
    assert code == 0 and [d["submission"]["name"] for d in docs] == ["a", "b"]
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(FIXTURES / "rule_model.py", one / "a.py")
    code, out, _ = cli("score", one, "--data", small_csv, "--out", tmp_path / "r", "--json", *FAST)
    assert [d["submission"]["name"] for d in json.loads(out)] == ["a"]  # a folder is several submissions, even if it holds one
    code, out, _ = cli("score", folder / "a.py", "--data", small_csv, "--out", tmp_path / "r", "--json", *FAST)
    assert json.loads(out)["submission"]["name"] == "a"
    code, out, _ = cli("check", folder / "a.py", "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] is True and {c["check"] for c in report["checks"]} >= {"file and metadata"}
    # what bench_families reads from a check: its export-and-load seconds and the jails' peak memory
    assert report["facts"]["load_s"] > 0 and report["facts"]["peak_rss_mb"] > 100
    # check counts less than score does, and says so
    flops = next(c["detail"] for c in report["checks"] if c["check"] == "FLOP counters agree")
    assert "batch 1 only, scoring also counts the graph at its batch sizes" in flops


def test_empty_folder_and_bad_device_are_errors(cli, tmp_path, small_csv):
    (tmp_path / "empty").mkdir()
    one_line_error(*cli("score", tmp_path / "empty", "--data", small_csv)[::2], "no submissions (*.py) in")
    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "rule.py")
    for command in (("score", tmp_path / "rule.py", "--data", small_csv), ("check", tmp_path / "rule.py")):
        one_line_error(*cli(*command, "--device", "gpu")[::2], "--device gpu: expected auto, cpu, cuda or cuda:N")
    (tmp_path / "fercomp.toml").write_text('[competition]\ndevice = "gpu0"\n')
    one_line_error(*cli("leaderboard", "--config", tmp_path / "fercomp.toml")[::2], "[competition] device = gpu0: expected")


@pytest.mark.jail
def test_a_data_file_as_weights_is_not_called_a_pickle(cli, tmp_path, small_csv):
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "team.py")
    code, out, _ = cli("score", tmp_path / "team.py", "--weights", small_csv, "--data", small_csv, "--out", tmp_path / "r",
                       "--json", *FAST)
    failure = json.loads(out)["failure"]
    assert code == 1 and failure["reason"] == "not_weights" and "--trust-pickle" not in failure["detail"]
    assert "b'emotion,pixels" in failure["detail"]


@pytest.mark.parametrize("target", ["existing_dir", "under_a_file/x.csv"])
def test_unwritable_output_is_one_line(cli, tmp_path, target):
    (tmp_path / "existing_dir").mkdir()
    (tmp_path / "under_a_file").write_text("a file, not a folder")
    code, _, err = cli("data", "synth", tmp_path / target, "--n-train", "7", "--n-public", "7", "--n-private", "7")
    one_line_error(code, err, target.split("/")[0])


def test_train_and_leaderboard_json(cli, tmp_path, small_csv):
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "team.py")
    code, out, err = cli("train", tmp_path / "team.py", "--data", small_csv, "--epochs", "1", "--batch-size", "64",
                         "--report-dir", tmp_path / "rep", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["best_epoch"] == 1 and doc["weights"].endswith("team.pt"), err
