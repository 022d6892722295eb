"""Unit signatures: what each hidden unit computes on the probe faces, the same bytes however the measurer runs,
and a permuted copy's units found again by the audit."""

import functools

import pytest
import torch
from torch import nn

from fercomp.data.synth import SynthSpec, generate
from fercomp.audit.activations import activations_aligned, aligned_statistic, signatures
from fercomp.measure import activations
from fercomp.records import SCHEMA, ScoreRecord

PROBE = {"source": "scored split", "images": 32, "pixels_sha256": "ab" * 32}


def _net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(12, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 20, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(80, 7)).eval()


def _permuted(model: nn.Sequential, seed: int) -> nn.Sequential:
    """The same function with every hidden layer's units reordered, and the middle layer's negated (with its
    normalisation's scale): only the order and the signs of its weights change."""
    out = _net(0)
    out.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(seed)
    orders = [torch.randperm(n, generator=g) for n in (12, 16, 20)]
    with torch.no_grad():
        previous = None
        for conv, norm, order in zip((0, 4, 8), (1, 5, None), orders):
            weight = model[conv].weight if previous is None else model[conv].weight[:, previous]
            out[conv].weight.copy_(weight[order]), out[conv].bias.copy_(model[conv].bias[order])
            if norm is not None:
                for name in ("weight", "bias", "running_mean", "running_var"):
                    getattr(out[norm], name).copy_(getattr(model[norm], name)[order])
            previous = order
        out[4].weight.neg_(), out[4].bias.neg_(), out[5].running_mean.neg_(), out[5].weight.neg_()
        out[12].weight.copy_(model[12].weight.view(7, 20, 4)[:, previous].reshape(7, 80))
    return out.eval()


def _faces(n: int = 32, seed: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels, _ = generate(SynthSpec(n_train=0, n_public=0, n_private=n, seed=seed))
    return torch.from_numpy(images).float().div(255).unsqueeze(1), torch.from_numpy(labels).long()


@functools.cache
def _trained(seed: int) -> nn.Sequential:
    """A few epochs on synthetic faces: trained units specialise, random ones all look alike."""
    model, (x, y) = _net(seed).train(), _faces(400, seed=7)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(4):
        for batch in torch.randperm(len(y), generator=torch.Generator().manual_seed(seed)).split(32):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
    return model.eval()


def _record(name: str, model: nn.Module, probe: dict = PROBE) -> ScoreRecord:
    x, _ = _faces()
    program = torch.export.export(model, (x[:2],), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},))
    described, raw = activations.unit_signatures(torch, program.module(), x)
    return ScoreRecord(schema=SCHEMA, status="scored", submission={"name": name}, data={}, environment={},
                       timestamp="", isolation=[],
                       unit_signatures={**described, "data": activations.encode(raw), "probe": probe})


@pytest.fixture(scope="module")
def cohort() -> dict[str, ScoreRecord]:
    torch.set_num_threads(2)
    original, other = _trained(1), _trained(2)
    x, _ = _faces()
    copy = _permuted(original, seed=3)
    assert torch.allclose(original(x), copy(x), atol=1e-4)  # the same function, weights in another order and sign
    tuned = _permuted(original, seed=4)
    with torch.no_grad():  # a fine-tuned copy: every weight moved by a tenth of its layer's spread
        for p in tuned.parameters():
            p.add_(0.1 * p.std() * torch.randn(p.shape, generator=torch.Generator().manual_seed(6)))
    return {"original": _record("original", original), "copy": _record("copy", copy),
            "tuned": _record("tuned", tuned), "other": _record("other", other)}


def test_every_layer_is_recorded_on_a_grid_and_the_bytes_do_not_depend_on_threads(cohort):
    blob = cohort["original"].unit_signatures
    assert [(layer["op"], layer["units"], layer["cells"]) for layer in blob["layers"]] == [
        ("conv2d", 12, 16), ("conv2d", 16, 16), ("conv2d", 20, 16), ("linear", 7, 1)]
    assert blob["images"] == 32 and blob["layers_cut"] == 0
    torch.set_num_threads(1)
    try:
        again = _record("original", _trained(1))
    finally:
        torch.set_num_threads(2)
    assert again.unit_signatures == blob


def test_layers_over_the_budget_are_left_out_and_counted(cohort, monkeypatch):
    monkeypatch.setattr(activations, "MAX_BYTES", 32 * (12 * 16 + 7))  # room for the first layer and the logits
    blob = _record("original", _net(1)).unit_signatures  # untrained: only the shapes count here
    assert [layer["units"] for layer in blob["layers"]] == [12, 7]
    assert blob["layers_cut"] == 2 and blob["units_cut"] == 36


def test_a_permuted_copy_is_found_and_an_independent_model_is_not(cohort):
    stats = {name: aligned_statistic(signatures(cohort["original"])[2], signatures(cohort[name])[2])
             for name in ("copy", "tuned", "other")}
    stats = {k: v[0] for k, v in stats.items()}
    # the same units, found again whatever their order; trained apart, these small nets on synthetic faces are more
    # alike than real ones, but fewer of their units find a near twin
    assert stats["copy"] == 1.0 and stats["tuned"] > 0.9 and stats["other"] < 0.8, stats
    check = activations_aligned(cohort, cohort["other"], threshold=0.8)
    flagged = {f.teams for f in check.flagged}
    assert ("copy", "original") in flagged and ("original", "tuned") in flagged
    assert not any("other" in teams for teams in flagged)
    finding = next(f for f in check.findings if f.teams == ("copy", "original"))
    assert "16 units: mean r 1.00, 100% at r ≥ 0.8" in finding.detail


def test_records_on_other_probe_faces_are_not_compared(cohort):
    moved = {**cohort, "copy": _record("copy", _permuted(_trained(1), seed=3), {**PROBE, "pixels_sha256": "cd" * 32})}
    check = activations_aligned({k: moved[k] for k in ("copy", "original")}, cohort["other"], threshold=0.8)
    assert check.not_run and "same probe faces" in check.not_run


def test_a_pair_both_as_near_the_baseline_is_not_flagged(cohort):
    check = activations_aligned({k: cohort[k] for k in ("copy", "tuned")}, cohort["original"], threshold=0.8)
    finding = check.findings[0]
    assert not finding.flagged and "baseline" in finding.detail


def test_a_damaged_blob_reads_as_none(cohort):
    blob = dict(cohort["original"].unit_signatures, images=31)
    damaged = ScoreRecord(schema=SCHEMA, status="scored", submission={"name": "x"}, data={}, environment={},
                          timestamp="", isolation=[], unit_signatures=blob)
    assert signatures(damaged) is None
