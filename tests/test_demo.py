"""The demo end to end on a tiny plan: every promised file exists and a re-run reuses everything."""

import json

from fercomp.data.synth import SynthSpec
from fercomp.demo import DemoPlan, run_demo
from fercomp.train.recipe import Recipe


def test_demo_writes_everything_and_reruns_from_cache(tmp_path):
    quick = Recipe(epochs=1, batch_size=64)
    plan = DemoPlan(out=tmp_path / "demo", data=SynthSpec(n_train=300, n_public=80, n_private=80, seed=2),
                    teams=(("small_cnn", quick), ("depthwise_net", quick)), baseline=quick)
    said = []
    written = run_demo(plan, say=said.append)
    for step in ("data", "training", "leaderboard", "ablation"):
        assert written[step] and all(p.exists() for p in written[step]), step
    suffixes = {p.suffix for p in written["leaderboard"]}
    assert suffixes == {".md", ".csv", ".tex", ".html", ".json", ".png"}
    board = json.loads(next(p for p in written["leaderboard"] if p.suffix == ".json").read_text())
    assert board["baseline"] == "baseline_cnn" and {m["team"] for m in board["marks"]} == {"small_cnn", "depthwise_net"}
    again = []
    run_demo(plan, say=again.append)
    assert sum("reusing" in line for line in again) == 4  # the data and three sets of weights
