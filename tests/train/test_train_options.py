"""--grad-clip-mode, --train-limit, --threads and notebook progress."""

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fercomp.data.source import load_data
from fercomp.submission.preprocess import Preprocess, finish
from fercomp.training import loop, progress, threads
from fercomp.training.recipe import Recipe
from fercomp.training.run import train_file
from tests.scoring_helpers import FIXTURES


def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 7))


@pytest.mark.parametrize("mode,clip", [("value", torch.nn.utils.clip_grad_value_), ("norm", torch.nn.utils.clip_grad_norm_)])
def test_a_training_step_clips_exactly_as_torch_does(mode, clip):
    """One step of fercomp's loop equals the reports' loop: backward, clip_grad_value_(params, c), step."""
    recipe = Recipe(optimizer="sgd", lr=0.5, momentum=0.0, grad_clip=0.005, grad_clip_mode=mode)
    images = torch.randint(0, 256, (16, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(16) % 7
    ours, reference = tiny_model(), tiny_model()
    opt = loop._optimizer(loop.param_groups(ours, recipe), recipe)
    loop._step(ours, ours, images, labels, recipe, Preprocess(), torch.Generator(), F.cross_entropy, opt,
               loop.Placement(torch.device("cpu")))
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.5)
    x = finish(images.float().div(255).unsqueeze(1), Preprocess()).contiguous(memory_format=torch.channels_last)
    F.cross_entropy(reference(x), labels).backward()
    grads = [p.grad.clone() for p in reference.parameters()]
    clip(reference.parameters(), 0.005)
    ref_opt.step()
    for a, b in zip(ours.parameters(), reference.parameters()):
        assert torch.equal(a, b)
    if mode == "value":  # the clipping was active: some gradient elements were beyond ±0.1
        assert any(g.abs().max() > 0.005 for g in grads)
        assert all(p.grad.abs().max() <= 0.005 for p in reference.parameters())


def test_value_and_norm_clipping_differ():
    by_value, by_norm = tiny_model(), tiny_model()
    for p in (*by_value.parameters(), *by_norm.parameters()):
        p.grad = torch.linspace(-1, 1, p.numel()).reshape(p.shape)
    loop.clip_gradients(by_value.parameters(), Recipe(grad_clip=0.1, grad_clip_mode="value"))
    loop.clip_gradients(by_norm.parameters(), Recipe(grad_clip=0.1, grad_clip_mode="norm"))
    assert max(float(p.grad.abs().max()) for p in by_value.parameters()) == pytest.approx(0.1)
    total_norm = torch.cat([p.grad.flatten() for p in by_norm.parameters()]).norm()
    assert float(total_norm) == pytest.approx(0.1, rel=1e-4)


def test_train_limit_is_a_fixed_stratified_subset_and_recorded(tmp_path, small_csv):
    data = load_data(small_csv).select("Training")
    subset = loop.stratified_subset(data, 70, seed=4)
    assert len(subset) == 70 and len(set(subset.ids)) == 70 and set(subset.ids) <= set(data.ids)
    share = np.bincount(data.labels, minlength=7) / len(data)
    assert np.abs(np.bincount(subset.labels, minlength=7) - 70 * share).max() < 1  # proportions kept
    assert loop.stratified_subset(data, 70, seed=4).ids.tolist() == subset.ids.tolist()  # fixed for a seed
    assert loop.stratified_subset(data, 70, seed=5).ids.tolist() != subset.ids.tolist()
    assert loop.stratified_subset(data, 0, seed=4) is data and loop.stratified_subset(data, 10**6, seed=4) is data

    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "m.py")
    train_file(tmp_path / "m.py", small_csv, Recipe(epochs=1, batch_size=64, train_limit=70, threads=1),
               out_dir=tmp_path / "r", progress=False)
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    assert history["recipe"]["train_limit"] == 70
    assert history["data"]["train_images"] == 70 and history["data"]["train_images_available"] == len(data)
    assert history["data"]["train_subset"] == "class-stratified, seed 0"
    assert history["ran_on"]["threads"] == 1 and history["ran_on"]["threads_chosen"] == "--threads 1"


def test_threads_default_to_the_idle_cores(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: [0, 1, 2, 3])
    monkeypatch.setattr(threads, "idle_cores", lambda cores: 1.2)  # three of four cores busy elsewhere
    assert threads.choose_threads(0) == (1, "auto: 1.2 of 4 cores idle")
    monkeypatch.setattr(threads, "idle_cores", lambda cores: 0.1)  # never fewer than one
    assert threads.choose_threads(0)[0] == 1
    monkeypatch.setattr(threads, "idle_cores", lambda cores: 3.9)
    assert threads.choose_threads(0)[0] == 4 and threads.choose_threads(2) == (2, "--threads 2")


def test_idle_cores_reads_proc_stat():
    idle = threads.idle_cores(threads.available_cores(), sample_s=0.05)
    assert idle is None or 0 <= idle <= len(threads.available_cores())


def test_training_restores_the_thread_count(tmp_path, small_csv):
    before = torch.get_num_threads()
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "m.py")
    train_file(tmp_path / "m.py", small_csv, Recipe(epochs=1, batch_size=200, threads=1, train_limit=100),
               out_dir=tmp_path / "r", progress=False)
    assert torch.get_num_threads() == before


def test_in_a_notebook_training_shows_a_tqdm_bar_and_epoch_lines(tmp_path, small_csv, monkeypatch, capsys):
    import fercomp

    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "m.py")
    result = fercomp.train(tmp_path / "m.py", small_csv, report_dir=tmp_path / "r", epochs=2, batch_size=200,
                           train_limit=200, threads=1)
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines()] == ["epoch 1", "epoch 2"]
    assert "val accuracy" in out and "2/2" in err  # tqdm's bar: 2 epochs × 1 step
    assert [h["epoch"] for h in result.history] == [1, 2]  # the history comes back


def test_curves_have_whole_epoch_ticks():
    import matplotlib.pyplot as plt

    from fercomp.training.history import curves_figure

    history = [{"epoch": e, "train_loss": 2.0 / e, "val_loss": 2.1 / e, "val_accuracy": 0.2 + 0.1 * e} for e in (1, 2, 3)]
    fig = curves_figure(history, "team: trained on 600 images")
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    # a report's figure says what it shows and in which unit: a title, and % on the accuracy axis
    assert fig.texts[0].get_text() == "team: trained on 600 images"
    accuracy = fig.axes[1]
    assert accuracy.get_ylabel() == "validation accuracy (%)"
    assert all(t.get_text().endswith("%") for t in accuracy.get_yticklabels() if t.get_text())
    plt.close(fig)


def test_a_model_that_cannot_be_built_is_one_line_with_the_files_own_frames(cli, tmp_path, small_csv):
    (tmp_path / "team.py").write_text("from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                                      "        super().__init__()\n        self.b = Block(1, 8)\n\n\n"
                                      "def build_model():\n    return Net()\n")
    code, out, err = cli("train", tmp_path / "team.py", "--data", small_csv, "--epochs", "1")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.strip().endswith("team.py: cannot build the model: NameError: name 'Block' is not defined "
                                "(at team.py line 7 in __init__ ← team.py line 11 in build_model)")


def test_train_refuses_model_kwargs_it_cannot_record(tmp_path, small_csv):
    from fercomp.errors import UsageError

    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "m.py")
    with pytest.raises(UsageError, match="model keyword argument act=<class 'torch.nn.modules.activation.ReLU'> cannot be recorded"):
        train_file(tmp_path / "m.py", small_csv, Recipe(epochs=1, model_kwargs=(("act", nn.ReLU),)), progress=False)
    assert "BUILD_KWARGS" not in (tmp_path / "m.py").read_text() and not (tmp_path / "m.pt").exists()
