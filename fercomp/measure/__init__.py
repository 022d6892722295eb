"""Measurements: metrics from a confusion matrix (pure numpy), FLOP counters, latency."""
