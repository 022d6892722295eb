"""A hand-in cannot score one program's accuracy with another program's kept FLOP count.

A re-score takes a cached program's FLOP counts and weights sketch from beside it (export_cache.figures). The
export cache is keyed by the hand-in's content, not by everything its export can read: this hand-in exports a
program a hundred times costlier when its worker runs on more than one thread. Scored once on one thread, its cheap
program's counts are kept; its programs are then removed by hand (as an instructor may clear the cache), and it is
scored on two threads: the program now measured is the costly one, and so must be its count. Kept figures are taken
only for the very bytes they were measured from, so the count is measured again.
"""

from dataclasses import replace
from pathlib import Path

import pytest

from fercomp.scoring import score_submission
from fercomp.submission import export_cache
from tests.scoring_helpers import fast_config

pytestmark = pytest.mark.jail

THREAD_SHAPED = '''import torch
from torch import nn
from torch.nn import functional as F

# cheap where it expects to be counted, costly where it expects to be measured
WIDTH = 100 if torch.get_num_threads() > 1 else 1


class Shaped(nn.Module):
    def __init__(self):
        super().__init__()
        self.probe = nn.Conv2d(1, WIDTH, 1, bias=False).requires_grad_(False)

    def forward(self, x):
        cost = self.probe(x).sum(dim=(1, 2, 3)) * 0
        return F.one_hot(torch.zeros(x.shape[0], dtype=torch.long), 7).float() + cost[:, None]


def build_model():
    return Shaped()
'''


def _score(path: Path, small_csv: Path, out: Path, threads: int):
    config = fast_config(small_csv, out, require_weights=False)
    return score_submission(path, replace(config, limits=replace(config.limits, threads=threads)))


def test_a_program_exported_again_is_counted_again(monkeypatch, tmp_path, small_csv):
    folder = tmp_path / "exported"
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(folder))
    path = tmp_path / "shaped.py"
    path.write_text(THREAD_SHAPED)
    cheap = _score(path, small_csv, tmp_path / "one", threads=1)
    assert cheap.status == "scored", cheap.failure
    for program in folder.glob(f"*{export_cache.SUFFIX}"):
        program.unlink()  # the programs cleared by hand; their kept figures stay beside them
    costly = _score(path, small_csv, tmp_path / "two", threads=2)
    assert costly.status == "scored", costly.failure
    assert costly.measured["export_key"] == cheap.measured["export_key"]  # the same key...
    assert costly.measured["exported_sha256"] != cheap.measured["exported_sha256"]  # ...for another program
    assert costly.measured["figures_kept"] == []
    assert costly.flops["fvcore_flops"] >= 50 * cheap.flops["fvcore_flops"]
