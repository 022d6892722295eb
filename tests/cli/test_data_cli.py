import json
import subprocess
import sys
import time

from tests.conftest import lines


def test_synth_then_info_both_layouts_agree(cli, tmp_path):
    sizes = ["--n-train", "300", "--n-public", "60", "--n-private", "70", "--seed", "5"]
    code, out, _ = cli("data", "synth", tmp_path / "fer.csv", *sizes)
    assert code == 0 and "Training 300, PublicTest 60, PrivateTest 70" in out
    code, _, _ = cli("data", "synth", tmp_path / "tree", "--layout", "folder", *sizes)
    assert code == 0
    summaries = []
    for source in (tmp_path / "fer.csv", tmp_path / "tree"):
        code, out, err = cli("data", "info", source, "--json")
        assert code == 0, err
        summaries.append(json.loads(out))
    csv, folder = summaries
    assert csv["counts"] == folder["counts"]
    assert {k: sum(v) for k, v in csv["counts"].items()} == {"Training": 300, "PublicTest": 60, "PrivateTest": 70}
    assert csv["held_out"] == folder["held_out"] == "PrivateTest"
    assert csv["duplicate_images"] == 0 and csv["image_shape"] == [48, 48]


def test_info_table_names_roles(cli, small_csv):
    code, out, _ = cli("data", "info", small_csv)
    assert code == 0
    assert "held out" in out and "validation" in out and "Neutral" in out


def test_duplicates_across_splits_are_reported(cli, tmp_path):
    row = " ".join(["7"] * 2304)
    (tmp_path / "dup.csv").write_text(f"emotion,pixels,Usage\n3,{row},Training\n3,{row},PrivateTest\n")
    code, out, _ = cli("data", "info", tmp_path / "dup.csv", "--json")
    summary = json.loads(out)
    assert summary["duplicate_images"] == 1 and summary["duplicates_across_splits"] == 1


def test_bad_input_is_one_line_and_exit_2(cli, tmp_path):
    (tmp_path / "bad.csv").write_text("emotion,pixels,Usage\n9," + " ".join(["1"] * 2304) + ",Training\n")
    code, out, err = cli("data", "info", tmp_path / "bad.csv")
    assert code == 2 and out == ""
    assert lines(err) == [f"fercomp: error: {tmp_path / 'bad.csv'}: line 2 (row 0): emotion '9' is not a label 0–6 "
                          "(0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral)"]
    code, _, err = cli("data", "info", tmp_path / "missing.csv")
    assert code == 2 and "no such file or folder" in err and "Traceback" not in err


def test_help_is_fast_and_imports_nothing_heavy():
    probe = ("import sys, time; t=time.time(); from fercomp.cli import app; "
             "print(time.time()-t, 'torch' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["False", "False"]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fercomp", "data", "--help"], capture_output=True, check=True)
    assert time.perf_counter() - start < 3  # generous: a cold interpreter on a loaded 2-core machine
