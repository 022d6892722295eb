"""FER-2013 sources: readers (CSV, folder layout), canonical labels, splits, cache, synthetic data."""
