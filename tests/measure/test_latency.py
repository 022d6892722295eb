"""The latency pass follows its config, and a bound in seconds (fercomp check's) stops it early."""

import torch

from fercomp.measure import latency
from fercomp.measure.latency import LatencyConfig


def test_max_seconds_bounds_the_pass_after_one_warm_up_and_one_query(monkeypatch):
    now = [0.0]

    def model(x):  # each query takes one second of a fake clock
        now[0] += 1.0
        return x

    monkeypatch.setattr(latency, "_clock", lambda: now[0])
    config = LatencyConfig(min_queries=100, min_seconds=0.0, warmup_queries=3)
    queries = torch.zeros(8, 1, 2, 2)
    bounded = latency.measure(model, queries, config, torch.device("cpu"), max_seconds=5.0)
    assert bounded["queries"] == 2 and bounded["latency_ms_p50"] == 1000.0  # 3 s of warm-up, then 2 queries
    assert latency.measure(model, queries, config, torch.device("cpu"))["queries"] == 100  # scoring: unbounded
    slow = latency.measure(model, queries, config, torch.device("cpu"), max_seconds=0.5)
    assert slow["queries"] == 1  # one warm-up and one timed query even when the bound is spent at once
