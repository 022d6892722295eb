"""Ablation studies: spec checks, row designs, tables against their records, and one study end to end."""

import re
import shutil
import statistics

import pytest

from fercomp.ablation import load_spec, rows
from fercomp.errors import UsageError
from fercomp.render.ablation_tables import main_effects, summarize, to_latex, to_markdown
from tests.conftest import cells
from tests.scoring_helpers import FIXTURES
from tests.test_marks import record

SPEC = """
name = "study"
submission = "small_cnn.py"
data = "{data}"
design = "{design}"
[recipe]
epochs = 1
batch_size = 64
[[method]]
name = "flip"
augment = ["flip"]
[[method]]
name = "batchnorm"
model_kwargs = {{ batchnorm = true }}
[[method]]
name = "smoothing"
loss = "label_smoothing"
"""


def spec(tmp_path, data="fer.csv", design="cumulative", extra="", top=""):
    path = tmp_path / "study.toml"
    path.write_text(top + SPEC.format(data=data, design=design) + extra)
    return path


def test_cumulative_and_factorial_rows(tmp_path):
    cumulative = rows(load_spec(spec(tmp_path)))
    assert [r.flags for r in cumulative] == [(False,) * 3, (True, False, False), (True, True, False), (True, True, True)]
    last = cumulative[-1].recipe
    assert [a.name for a in last.augment] == ["flip"] and dict(last.model_kwargs) == {"batchnorm": True} and last.loss == "label_smoothing"
    assert last.epochs == 1 and cumulative[0].recipe.loss == "ce"
    factorial = rows(load_spec(spec(tmp_path, design="factorial")))
    assert len(factorial) == 8 and len(set(r.flags for r in factorial)) == 8 and factorial[0].flags == (False,) * 3


@pytest.mark.parametrize("extra,top,message", [
    ("\n[[method]]\nname = \"x\"\nwings = 2\n", "", "method 'x' unknown option 'wings'"),
    ("", "colour = 1\n", "unknown key 'colour'"),
])
def test_spec_errors_name_the_key(tmp_path, extra, top, message):
    with pytest.raises(UsageError, match=message):
        load_spec(spec(tmp_path, extra=extra, top=top))
    with pytest.raises(UsageError, match="design 'latin' must be"):
        load_spec(spec(tmp_path, design="latin"))


def test_methods_take_clipping_modes_and_augmentation_parameters(tmp_path):
    extra = ('\n[[method]]\nname = "clip by value"\ngrad_clip = 0.1\ngrad_clip_mode = "value"\n'
             '\n[[method]]\nname = "report crop"\naugment = ["crop:padding=2,mode=reflect", { name = "flip", p = 0.3 }]\n')
    last = rows(load_spec(spec(tmp_path, extra=extra)))[-1].recipe
    assert (last.grad_clip, last.grad_clip_mode) == (0.1, "value")
    assert last.augmentation("crop").kwargs() == {"padding": 2, "mode": "reflect", "fill": 0.0}
    assert last.augmentation("flip").kwargs() == {"p": 0.3}  # named again: the new parameters, in its old place
    assert [a.name for a in last.augment] == ["flip", "crop"]
    (tmp_path / "base.toml").write_text('schedule = "onecycle"\nepochs = 9\n')
    study = load_spec(spec(tmp_path, top='recipe_file = "base.toml"\n'))
    assert (study.base.schedule, study.base.epochs) == ("onecycle", 1)  # the spec's [recipe] over the file
    bad = '\n[[method]]\nname = "x"\naugment = ["crop:mode=wrap"]\n'
    with pytest.raises(UsageError, match=r"study.toml: method 'x' augment crop: mode must be one of constant, edge"):
        load_spec(spec(tmp_path, extra=bad))


def results_for(patterns_and_acc, half=0.01):
    """Records with 95 % intervals of ±`half` around each accuracy."""
    from dataclasses import replace

    return [(flags, replace(record("r", acc, gflops=g), intervals={"accuracy_wilson": [acc - half, acc + half]}))
            for flags, acc, g in patterns_and_acc]


def test_tables_agree_with_their_records():
    methods = ["flip", "bn"]
    data = results_for([((False, False), 0.50, 0.2), ((True, False), 0.55, 0.2), ((True, False), 0.57, 0.2),
                        ((True, True), 0.60, 0.25)])
    summary = summarize(methods, data)
    assert [s["flags"] for s in summary] == [(False, False), (True, False), (True, True)]
    assert summary[1]["accuracy"] == pytest.approx(56.0) and summary[1]["accuracy_std"] == pytest.approx(statistics.stdev([55, 57]))
    assert summary[2]["d_accuracy"] == pytest.approx(10.0)
    assert summary[2]["efficiency"] == pytest.approx(60 / 0.25) and summary[2]["d_efficiency"] == pytest.approx(240 - 250)
    md = to_markdown(methods, summary, "cumulative")
    lines = md.strip().splitlines()
    assert cells(lines[0]) == ["flip", "bn", "accuracy %", "Δ accuracy", "GFLOPs", "params M", "efficiency", "Δ efficiency"]
    assert cells(lines[3])[:4] == ["Y", "N", "56.00 ± 1.41", "+6.00"]
    assert "**60.00**" in lines[4] and "**280.0 ± 7.1**" in lines[3]  # best accuracy; best efficiency (56/0.2)
    tex = to_latex(methods, summary, "cumulative", ("✓", "✗"), name="flip & bn")
    assert tex.count(r"\toprule") == 1 and r"\textbf{60.00}" in tex and re.search(r"\$\\checkmark\$ *& *\$\\times\$", tex)
    assert r"\caption{Ablation flip \& bn (cumulative" in tex and r"\label{tab:ablation-flip-bn}" in tex
    assert r"$-$10.0" in tex and "-10.0" not in tex.replace("$-$", "")  # a real minus sign, not a hyphen


def test_bold_only_where_the_best_is_clearly_apart_from_every_other_row():
    from fercomp.render.ablation_tables import clearly_best

    rows = [((False,), 0.50, 1.0), ((True,), 0.53, 1.0)]
    apart = summarize(["m"], results_for(rows, half=0.01))  # 49–51 vs 52–54: clearly the best
    assert clearly_best(apart, "accuracy") == 1 and "**53.00**" in to_markdown(["m"], apart, "cumulative")
    noise = summarize(["m"], results_for(rows, half=0.02))  # 48–52 vs 51–55: within noise
    assert clearly_best(noise, "accuracy") is None
    md = to_markdown(["m"], noise, "cumulative")
    assert "**" not in md and "No row is clearly the best" in md
    assert r"\textbf" not in to_latex(["m"], noise, "cumulative") and "intervals overlap" in to_latex(["m"], noise, "cumulative")
    unknown = summarize(["m"], [(f, record("r", a, gflops=g)) for f, a, g in rows])  # no intervals recorded
    assert clearly_best(unknown, "accuracy") is None


def test_factorial_main_effects():
    methods = ["a", "b"]
    data = results_for([((False, False), 0.50, 1), ((True, False), 0.60, 1), ((False, True), 0.52, 1), ((True, True), 0.64, 1)])
    effects = main_effects(methods, summarize(methods, data))
    assert effects[0]["accuracy"] == pytest.approx((60 + 64) / 2 - (50 + 52) / 2)
    assert effects[1]["accuracy"] == pytest.approx((52 + 64) / 2 - (50 + 60) / 2)
    assert "main effect on accuracy" in to_markdown(methods, summarize(methods, data), "factorial")


@pytest.mark.jail
def test_cumulative_study_end_to_end_then_render_and_resume(cli, tmp_path, small_csv):
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "small_cnn.py")
    path = tmp_path / "study.toml"
    path.write_text(SPEC.format(data=small_csv, design="cumulative").split("[[method]]\nname = \"smoothing\"")[0])
    code, out, err = cli("ablate", path, "--out", tmp_path / "abl", "--latency-queries", "2", "--latency-seconds", "0")
    assert code == 0, err
    table = (tmp_path / "abl" / "study" / "ablation.md").read_text().splitlines()
    assert len(table) == 2 + 3 + 2 and cells(table[0])[:2] == ["flip", "batchnorm"]
    assert table[-1].endswith("the rows' 95 % intervals overlap.") or table[-1].startswith("Bold: clearly the best")
    table = table[:-2]
    from fercomp.ablation import read_study

    index, results = read_study(tmp_path / "abl" / "study")
    for line, (flags, rec) in zip(table[2:], results):
        assert f"{100 * rec.accuracy:.2f}" in line and cells(line)[:len(flags)] == ["Y" if f else "N" for f in flags]
    assert results[2][1].submission["model_kwargs"] == {"batchnorm": True}
    code, out, _ = cli("ablate", "render", tmp_path / "abl" / "study")
    assert code == 0 and (tmp_path / "abl" / "study" / "ablation.tex").exists()
    code, out, _ = cli("ablate", path, "--out", tmp_path / "abl", "--latency-queries", "2", "--latency-seconds", "0")
    assert code == 0 and "epoch 1" not in out  # every row came from the cache
    code, _, err = cli("ablate", "render", tmp_path / "nothing")
    assert code == 2 and "no study.json" in err


def test_ablate_passes_device_and_precision_to_every_row(cli, tmp_path, small_csv):
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "small_cnn.py")
    path = tmp_path / "study.toml"
    path.write_text(SPEC.format(data=small_csv, design="cumulative"))
    code, _, err = cli("ablate", path, "--dry-run", "--device", "gpu")
    assert code == 2 and "--device gpu: expected auto, cpu, cuda or cuda:N" in err
    from fercomp import ablation

    study = ablation.load_spec(path)
    assert study.base.device == "auto"
    code, out, err = cli("ablate", path, "--dry-run", "--device", "cpu", "--precision", "bf16")
    assert code == 0 and "row 1" in out, err
    code, _, err = cli("ablate", path, "--dry-run", "--precision", "fp8")
    assert code == 2 and "--precision fp8" in err


@pytest.mark.jail
def test_ablation_cache_is_reused_on_a_folder_source(cli, tmp_path, small_folder):
    """A folder's held-out split is `test`, not PrivateTest: the cached rows must be found under that name."""
    plain = tmp_path / "faces"  # file names without Kaggle split prefixes: the splits are train and test
    for k, image in enumerate(sorted(small_folder.rglob("*.png"))):
        target = plain / image.relative_to(small_folder).parent / f"img_{k}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, target)
    from fercomp.data.source import load_data

    assert load_data(plain).held_out == "test"
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "small_cnn.py")
    path = tmp_path / "study.toml"
    path.write_text(SPEC.format(data=plain, design="cumulative").split("[[method]]\nname = \"batchnorm\"")[0])
    args = ("ablate", path, "--out", tmp_path / "abl", "--latency-queries", "2", "--latency-seconds", "0")
    code, out, err = cli(*args)
    assert code == 0, err
    assert len(list((tmp_path / "abl" / "study" / "rows").glob("*/results/small_cnn.test.json"))) == 2
    code, out, err = cli(*args)
    assert code == 0 and "epoch 1" not in out, out  # both rows from the cache, nothing retrained


def test_dry_run_builds_every_row_and_names_the_students_file(cli, tmp_path, small_csv):
    """An impossible model_kwargs fails the dry run (and the real run before row 1 trains), naming the team's
    own file, not the copy under reports/ablation/…/rows/."""
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "small_cnn.py")
    path = tmp_path / "study.toml"
    path.write_text(SPEC.format(data=small_csv, design="cumulative").replace("batchnorm = true", "batchnorm = true, depth = 9"))
    for extra in (("--dry-run",), ("--out", tmp_path / "abl")):
        code, out, err = cli("ablate", path, *extra)
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert f"{tmp_path / 'small_cnn.py'}: cannot build the model with build_model(**{{'batchnorm': True, 'depth': 9}})" in err
        assert "unexpected keyword argument 'depth'" in err and "(row: flip + batchnorm)" in err and "rows/" not in err
    assert "epoch 1" not in out and not (tmp_path / "abl" / "study" / "rows").exists()
