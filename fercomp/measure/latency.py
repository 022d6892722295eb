"""Latency in the MLPerf SingleStream style: batch-1 queries, one after another, after a warm-up.

At least `min_queries` queries and at least `min_seconds` are timed; p50/p90 are taken over them.
Batch throughput is not measured here: the accuracy pass already runs every held-out image through
`timed_forward` at the scoring batch size, and its forward times give images/s at no extra cost.
On CUDA every call is bracketed by CUDA events and synchronised, so the time is the GPU's, not the launch's.
The clock is bound when this module is imported, before any submission is.
"""

from __future__ import annotations

import time

import numpy as np

from fercomp.config import LatencyConfig  # noqa: F401  (the setting lives with the others; measured here)

_clock = time.perf_counter


def timed_forward(model, x, device):
    """(seconds, output) of one forward, synchronised on CUDA. Every forward that answers starts from the same
    generator state: a graph that draws random numbers cannot tell one call from the next (which batch of the
    accuracy pass it answers, and so which faces by their place in the split), only its input."""
    import torch

    torch.manual_seed(0)
    if device.type == "cuda":
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = model(x)
        stop.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(stop) / 1e3, out
    t0 = _clock()
    out = model(x)
    return _clock() - t0, out


def measure(model, queries, config: LatencyConfig, device, max_seconds: float = 0.0) -> dict:
    """Batch-1 latency over `queries` (cycled); returns the times and each query's last output.

    `max_seconds` (0: none) bounds the whole pass, warm-up included, above the config's minimums: after one
    warm-up and one timed query it stops when the time is spent. `fercomp check` uses it so that a big model
    gets a rough estimate instead of no answer; scoring does not (its latency follows the config alone)."""
    import torch

    def spent() -> bool:
        return bool(max_seconds) and _clock() - begun >= max_seconds

    with torch.inference_mode():
        n = len(queries)
        begun = _clock()
        for i in range(config.warmup_queries):
            model(queries[i % n : i % n + 1])
            if spent():
                break
        times, outputs = [], {}
        started = _clock()
        while len(times) < config.min_queries or _clock() - started < config.min_seconds:
            if times and spent():
                break
            i = len(times) % n
            seconds, out = timed_forward(model, queries[i : i + 1], device)
            times.append(seconds)
            outputs[i] = out
    ms = np.asarray(times) * 1e3
    last = torch.cat([outputs[i].float().cpu() for i in sorted(outputs)]) if outputs else None
    return {
        "latency_ms_p50": float(np.percentile(ms, 50)),
        "latency_ms_p90": float(np.percentile(ms, 90)),
        "latency_ms_mean": float(ms.mean()),
        "queries": int(len(ms)),
        "timed_seconds": float(ms.sum() / 1e3),
        "batch1_outputs": last,
    }
