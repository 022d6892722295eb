"""The same hand-in scored again answers the same, whatever the earlier score left and however its worker started.

A re-score of a cached program takes its sketch and FLOP counts from `<key>.figures.json` (export_cache.py), and
the machine's rate from its cache, instead of measuring them, so whatever measuring them did to the measurer must
not show in what is still measured: a graph that draws random numbers in forward is scored twice into an empty
cache, the first score probing the machine and counting the FLOPs (the probe and every counter draw from the
generator), the re-score taking both as kept; its answers, and so its marks, must be the same on both. And a
hand-in exported again (its cached program gone), in a fork of the worker template or in a fresh jail, must be the
same program: a random init drawn from numpy's generator too. Within a score, a graph that draws random numbers
cannot tell one call from the next either."""

import contextlib

import pytest

from fercomp.scoring import score_submission
from tests.scoring_helpers import fast_config

pytestmark = pytest.mark.jail

#: Logits that are the generator's draws: every answer, and the accuracy, shows the generator's state at predict.
RANDOM_GUESS = """
import torch
from torch import nn


class Guess(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        out = self.head(x.flatten(1))
        return 0 * out + torch.rand_like(out)


def build_model():
    return Guess()
"""


def test_a_rescore_with_kept_figures_answers_as_the_first_score(tmp_path, small_csv, monkeypatch):
    monkeypatch.setenv("FERCOMP_CACHE_DIR", str(tmp_path / "cache"))  # no machine rate, no program kept yet
    monkeypatch.delenv("FERCOMP_EXPORT_CACHE_DIR", raising=False)
    path = tmp_path / "guess.py"
    path.write_text(RANDOM_GUESS)
    config = fast_config(small_csv, tmp_path / "results", require_weights=False)
    first = score_submission(path, config)
    again = score_submission(path, config)
    assert first.status == again.status == "scored", (first.failure, again.failure)
    assert (first.measured["figures_kept"], again.measured["figures_kept"]) == ([], ["flops", "weights_sketch"])
    assert first.environment["start_mode"] in ("forked", "jail"), "the measurer runs jailed, as a course's does"
    assert again.predictions == first.predictions and again.accuracy == first.accuracy


#: Weights drawn from numpy's generator at build time, none handed in: its answers show that generator's state.
NUMPY_INIT = """
import numpy as np
import torch
from torch import nn


def build_model():
    model = nn.Linear(48 * 48, 7).requires_grad_(False)
    model.weight.copy_(torch.from_numpy(np.random.standard_normal((7, 48 * 48)).astype("float32")))
    return nn.Sequential(nn.Flatten(), model)
"""


def test_a_random_init_is_the_same_program_forked_or_fresh(tmp_path, small_csv, monkeypatch):
    """Exported twice, the cache emptied between: forked from the worker template (where it can run), then in a
    fresh jail. A fresh interpreter seeds numpy from the machine's entropy and a fork inherits its template's
    state, so unless the worker seeds it the two are other programs, with other answers."""
    from fercomp.submission import worker_forks

    path = tmp_path / "numpy_init.py"
    path.write_text(NUMPY_INIT)
    config = fast_config(small_csv, tmp_path / "results", require_weights=False)
    records = []
    for fresh in (False, True):
        monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(tmp_path / f"exported-{fresh}"))
        with worker_forks.fresh_workers("this test compares the two") if fresh else contextlib.nullcontext():
            records.append(score_submission(path, config))
    first = "forked" if worker_forks.unusable(True, False) is None else "jail"
    assert [r.environment["worker_start_mode"] for r in records] == [first, "jail"]
    assert records[0].predictions == records[1].predictions


#: Every face answered with the class its call's draw names: a graph that could tell its calls apart (the
#: generator going on from one to the next) would know which batch of the accuracy pass it answers, and so which
#: faces, by their place in the split: a table of answers by place would do the rest.
CALL_COUNTER = """
import torch
from torch import nn


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        # dropout left on draws its mask from the generator, and the cost table prices it (free, as in eval mode)
        mask = torch.nn.functional.dropout(torch.ones(3), 0.5, training=True)
        call = (0.5 * mask[0] + mask[1] + 2 * mask[2]).long() % 7
        return 0 * self.head(x.flatten(1)) + 100 * torch.nn.functional.one_hot(call, 7).float()


def build_model():
    return Counter()
"""


def test_a_graph_cannot_tell_one_call_from_another(tmp_path, small_csv, monkeypatch):
    """Each forward that answers starts from the same generator state: every batch of the accuracy pass, each
    consistency batch and each latency query draw the same numbers, so every face gets the same class."""
    from fercomp.records import decode_predictions

    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(tmp_path / "exported"))
    path = tmp_path / "call_counter.py"
    path.write_text(CALL_COUNTER)
    record = score_submission(path, fast_config(small_csv, tmp_path / "results", require_weights=False))
    assert record.status == "scored", record.failure
    assert len(set(decode_predictions(record)[:, 1].tolist())) == 1, "its batches were answered with other classes"
    assert not record.flags, record.flags
