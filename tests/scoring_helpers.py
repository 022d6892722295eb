"""Fast scoring settings for tests: tiny latency phases, tight limits."""

from pathlib import Path

from fercomp.measure.latency import LatencyConfig
from fercomp.scoring import ScoreConfig
from fercomp.submission.runner import Limits

FAST_LATENCY = LatencyConfig(min_queries=5, min_seconds=0.05, warmup_queries=1)
FIXTURES = Path(__file__).parent / "fixtures"
BASELINE = Path(__file__).parents[1] / "baselines" / "baseline_cnn.py"


def fast_config(data, out, time_limit=60.0, memory_mb=4096, sandbox="auto", **kw) -> ScoreConfig:
    return ScoreConfig(data=data, out_dir=out, latency=FAST_LATENCY,
                       limits=Limits(time_limit_s=time_limit, memory_limit_mb=memory_mb, sandbox=sandbox), **kw)


def expected_rule_predictions(images):
    return ((images >= 128).sum(axis=(1, 2)) % 7).astype(int)
