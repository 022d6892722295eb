"""Training on any device: the device and precision are validated on the command line, recorded in the
history, and the CUDA path runs wherever a CUDA device exists (these tests run it there)."""

import json
import shutil

import pytest
import torch

from fercomp.errors import UsageError
from fercomp.training import augment, loop
from fercomp.training.recipe import Recipe
from fercomp.training.run import train_file
from tests.scoring_helpers import FIXTURES

CUDA = torch.cuda.is_available()
QUICK = Recipe(epochs=1, batch_size=64, lr=2e-3, augment=("flip", "crop", "erasing"))


def _train(tmp_path, small_csv, **changes):
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "small_cnn.py")
    result = train_file(tmp_path / "small_cnn.py", small_csv, QUICK.with_changes(**changes), out_dir=tmp_path / "rep",
                        progress=False)
    return result, json.loads((tmp_path / "rep" / "history.json").read_text())


@pytest.mark.parametrize("args, words", [
    (("--device", "gpu"), "--device gpu: expected auto, cpu, cuda or cuda:N"),
    (("--precision", "fp8"), "--precision fp8: expected one of fp32, bf16, fp16"),
    (("--device", "cuda:7"), "cuda:7" if CUDA else "CUDA is not available here; use --device cpu"),
])
def test_bad_device_or_precision_is_one_line(cli, tmp_path, small_csv, args, words):
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "small_cnn.py")
    code, out, err = cli("train", tmp_path / "small_cnn.py", "--data", small_csv, "--epochs", "1", *args)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_is_recorded(tmp_path, small_csv, precision):
    # autocast on a CPU emulates the half types (fp16 ran 35 s for 600 images here): 128 images show the same
    result, history = _train(tmp_path, small_csv, precision=precision, device="cpu", train_limit=128)
    assert history["ran_on"]["precision"] == precision and history["ran_on"]["device"] == "cpu"
    assert history["recipe"]["precision"] == precision
    state = torch.load(result.weights_path, weights_only=True)
    assert all(v.dtype in (torch.float32, torch.int64) and v.device.type == "cpu" for v in state.values())
    assert torch.isfinite(torch.tensor(history["epochs"][0]["train_loss"]))


def test_compile_falls_back_with_a_warning(tmp_path, small_csv, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(UserWarning, match="--compile: torch.compile failed .*no compiler here.*eager"):
        _, history = _train(tmp_path, small_csv, compile=True, device="cpu")
    assert history["ran_on"]["compile"].startswith("fell back to eager")


def test_augmentations_draw_alike_on_any_device():
    """The CPU generator draws every random number: a seed augments the same on CPU and CUDA."""
    x = torch.rand(8, 1, 48, 48)
    names = Recipe(augment=("flip", "rotate", "crop", "affine", "brightness", "erasing", "autocontrast")).augment
    cpu = augment.apply(x, names, torch.Generator().manual_seed(3))
    device = "cuda" if CUDA else "cpu"
    other = augment.apply(x.to(device), names, torch.Generator().manual_seed(3)).cpu()
    assert torch.allclose(cpu, other, atol=1e-4)


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device (run on the GPU machine; CPU machines test the error)")
def test_cuda_bf16_training_records_the_gpu(tmp_path, small_csv):
    result, history = _train(tmp_path, small_csv, device="cuda", precision="bf16")
    assert history["ran_on"]["device"].startswith("cuda:") and history["ran_on"]["gpu_name"]
    assert history["ran_on"]["gpu_peak_memory_mb"] > 0
    state = torch.load(result.weights_path, weights_only=True)
    assert all(v.device.type == "cpu" for v in state.values())  # weights load on any machine


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_and_cpu_training_agree_at_fp32(tmp_path, small_csv):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, on_cpu = _train(tmp_path / "a", small_csv, device="cpu", deterministic=True)
    _, on_gpu = _train(tmp_path / "b", small_csv, device="cuda", deterministic=True)
    assert on_gpu["epochs"][0]["train_loss"] == pytest.approx(on_cpu["epochs"][0]["train_loss"], rel=2e-2)


def test_placement_refuses_cuda_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="CUDA is not available here"):
        loop.placement(Recipe(device="cuda"))
    assert loop.placement(Recipe(device="auto")).device.type == "cpu"


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_check_on_cuda_counts_flops_after_predicting(tmp_path):
    """check asks for outputs before FLOPs: on CUDA the model must come back to the CPU for the count."""
    import fercomp

    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "rule.py")
    report = fercomp.check(tmp_path / "rule.py", device="cuda")
    assert report.passed, report.items
    assert report.facts["gflops"] == pytest.approx(2304 / 1e9)


def test_deterministic_training_restores_the_process_setting(tmp_path, small_csv):
    """A notebook that trains once with --deterministic must not run everything after it deterministically."""
    before = torch.are_deterministic_algorithms_enabled()
    _train(tmp_path, small_csv, device="cpu", deterministic=True)
    assert torch.are_deterministic_algorithms_enabled() == before
