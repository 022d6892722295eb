"""Hand-ins against the kept figures (fercomp/submission/export_cache.py): a re-score of a cached program takes its
sketch and FLOP counts from `<key>.figures.json` instead of measuring them, so whatever measuring them did to the
measurer must not show in what is still measured. A graph that draws random numbers in forward is scored twice
into an empty cache: the first score probes the machine's rate and counts the FLOPs (the probe and every counter
draw from the generator), the re-score takes the rate and the counts as kept; its answers, and so its marks, must
be the same on both."""

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
