"""`fercomp score` and `fercomp check` as a user meets them: exit codes, one-line errors, JSON."""

import json
import shutil

import pytest

from tests.conftest import lines
from tests.scoring_helpers import BASELINE, FIXTURES

FAST = ["--latency-queries", "3", "--latency-seconds", "0"]


@pytest.mark.jail
def test_score_prints_table_and_exit_0(cli, tmp_path, small_csv):
    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "rule.py")
    code, out, err = cli("score", tmp_path / "rule.py", "--data", small_csv, "--out", tmp_path / "res", *FAST)
    assert code == 0, err
    assert "accuracy" in out and "GFLOPs" in out and "0.0000" in out  # 2,304 FLOPs is 0.0000 G to 4 places
    # a student's own run scores the public split, and says so; the course grades PrivateTest in its final phase
    assert (tmp_path / "res" / "rule.PublicTest.json").exists()
    assert "scored PublicTest, the public split" in err and "--split PrivateTest scores that here" in err


def test_json_is_a_flag_and_help_shows_no_value_for_it(cli):
    code, out, _ = cli("check", "--help")
    line = next(line for line in out.splitlines() if "--json" in line)
    assert code == 0 and "<bool>" not in line
    code, _, err = cli("check", "x.py", "--json", "true")
    assert code == 2 and "unexpected extra argument" in err  # a flag takes no value


@pytest.mark.jail
def test_score_json_and_failed_submission_exit_1(cli, tmp_path, small_csv):
    (tmp_path / "broken.py").write_text(
        "import torch\nfrom torch import nn\n\nclass A(nn.Module):\n    pass\n\nclass B(nn.Module):\n    pass\n")
    code, out, _ = cli("score", tmp_path / "broken.py", "--data", small_csv, "--out", tmp_path / "res", "--json", *FAST)
    record = json.loads(out)
    assert code == 1 and record["status"] == "failed"
    assert record["failure"]["reason"] == "no_model" and "could be the model (A, B)" in record["failure"]["detail"]
    assert "add `def build_model(): return A()`" in record["failure"]["detail"]


@pytest.mark.jail
def test_score_usage_and_data_errors_exit_2(cli, tmp_path, small_csv):
    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "rule.py")
    cases = [
        (("score", tmp_path / "rule.py"), "fercomp: error: no data to score on: pass --data with a fer2013.csv or a folder "
         "with train/ and test/ (make demo writes reports/demo/fer2013.csv)"),
        (("score", tmp_path / "absent.py", "--data", small_csv), "absent.py: no such submission file"),
        (("score", tmp_path / "rule.py", "--data", tmp_path / "nope.csv"), "nope.csv: no such file or folder"),
        (("score", tmp_path / "rule.py", "--data", small_csv, "--split", "Validation"), "no split 'Validation'"),
        (("score", tmp_path / "rule.py", "--data", small_csv, "--sandbox", "maybe"), "--sandbox maybe: expected"),
        (("score", tmp_path / "rule.py", "--data", small_csv, "--device", "cuda:7", "--out", tmp_path / "r"),
         "CUDA device(s)" if _cuda() else "CUDA is not available"),
    ]
    for args, message in cases:
        code, out, err = cli(*args, *FAST)
        assert code == 2, (args, err)
        assert len(lines(err)) == 1 and message in err and "Traceback" not in err, err


def test_click_usage_errors_are_one_line_not_a_box(cli, tmp_path):
    cases = [
        (("score", "x.py", "--dat", "f.csv"), "No such option: --dat (Possible options: --data, --out); see 'fercomp score --help'"),
        (("scroe",), "No such command 'scroe'. Did you mean 'score'?; see 'fercomp --help'"),
        (("score",), "Missing argument 'submissions'; see 'fercomp score --help'"),
        (("score", "x.py", "--threads", "many"), "Invalid value for '--threads'"),
    ]
    for args, message in cases:
        code, out, err = cli(*args)
        assert code == 2 and out == "", (args, out)
        assert lines(err) == [lines(err)[0]] and err.startswith("fercomp: error: ") and message in err, err
        assert "╭" not in err and "Usage:" not in err
    code, out, _ = cli("data", "--help")
    assert code == 0 and "synth" in out and "info" in out


@pytest.mark.jail
def test_check_passes_good_and_fails_bad(cli, tmp_path):
    shutil.copy(BASELINE, tmp_path / "baseline_cnn.py")
    code, out, _ = cli("check", tmp_path / "baseline_cnn.py")
    assert code == 1  # no weights file: scoring would refuse it
    assert "FAIL weights file" in out and "PASS FLOP counters agree — 0.3275 GFLOPs" in out
    import torch

    spec = {}
    exec((tmp_path / "baseline_cnn.py").read_text(), spec)
    torch.save(spec["build_model"]().state_dict(), tmp_path / "baseline_cnn.pt")
    code, out, _ = cli("check", tmp_path / "baseline_cnn.py")
    assert code == 0 and "ready to submit" in out
    (tmp_path / "nan.py").write_text("import torch\nfrom torch import nn\n\nclass N(nn.Module):\n    def forward(self, x):\n"
                                     "        return torch.full((x.shape[0], 7), float('nan'))\n")
    code, out, _ = cli("check", tmp_path / "nan.py")
    assert code == 1 and "FAIL output is [N, 7] finite logits — non_finite_output" in out


@pytest.mark.jail
def test_check_and_score_a_network_with_helper_blocks_and_one_that_cannot_export(cli, tmp_path, small_csv):
    from tests.submission.test_contract import HELPER_AND_NET

    (tmp_path / "blocks.py").write_text(HELPER_AND_NET)
    code, out, err = cli("score", tmp_path / "blocks.py", "--data", small_csv, "--out", tmp_path / "res", "--allow-random-init",
                         "--json", *FAST)
    record = json.loads(out)
    assert code == 0 and record["status"] == "scored" and record["params_total"] == 8 * 9 + 8 + 8 * 7 + 7, err
    (tmp_path / "branchy.py").write_text("import torch\nfrom torch import nn\n\nclass N(nn.Module):\n    def forward(self, x):\n"
                                         "        if x.mean() > 0:\n            return x.flatten(1)[:, :7]\n"
                                         "        return -x.flatten(1)[:, :7]\n")
    code, out, _ = cli("check", tmp_path / "branchy.py")
    assert code == 1 and "FAIL exports with torch.export — not_exportable:" in out and "use torch.where" in out


@pytest.mark.jail
def test_shards_cover_every_submission_once(cli, tmp_path, small_csv):
    folder = tmp_path / "subs"
    folder.mkdir()
    for k in range(3):
        shutil.copy(FIXTURES / "rule_model.py", folder / f"t{k}.py")
    seen = []
    for index in (1, 2):
        code, _, err = cli("score", folder, "--data", small_csv, "--out", tmp_path / f"r{index}", "--shard", f"{index}/2", *FAST)
        assert code == 0, err
        seen += sorted(p.name for p in (tmp_path / f"r{index}").iterdir())
    assert sorted(seen) == ["t0.PublicTest.json", "t1.PublicTest.json", "t2.PublicTest.json"]  # no --phase: the public split
    code, _, err = cli("score", folder, "--data", small_csv, "--shard", "3/2", *FAST)
    assert code == 2 and "I must be between 1 and N" in err


@pytest.mark.jail
def test_score_in_the_public_phase_never_scores_the_held_out_split(cli, tmp_path, small_csv):
    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "rule.py")
    (tmp_path / "fercomp.toml").write_text('[phases]\nreveal = "2099-01-01"\n')
    common = ("--data", small_csv, "--out", tmp_path / "res", "--config", tmp_path / "fercomp.toml", *FAST)
    code, out, err = cli("score", tmp_path / "rule.py", "--phase", "public", *common)
    assert code == 0, err
    assert [p.name for p in (tmp_path / "res").iterdir()] == ["rule.PublicTest.json"]
    code, _, err = cli("score", tmp_path / "rule.py", "--phase", "public", "--split", "PrivateTest", *common)
    assert code == 2 and "only --phase final scores it" in err
    code, _, err = cli("score", tmp_path / "rule.py", "--phase", "final", *common)
    assert code == 2 and "revealed on 2099-01-01" in err


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
