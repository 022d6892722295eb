"""Classification metrics as pure functions of a confusion matrix (rows true, columns predicted).

>>> cm = confusion_matrix(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2)
>>> cm.tolist(), accuracy(cm)
([[1, 1], [0, 2]], 0.75)
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[i, j] = samples of true class i predicted as j."""
    flat = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def accuracy(cm: np.ndarray) -> float:
    """Correct / total, pooled over every sample (not a mean of batch means)."""
    total = cm.sum()
    return float(np.trace(cm) / total) if total else 0.0


def top_k_accuracy(labels: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of samples whose true class is among the k highest scores (ties broken by class index)."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((order == labels[:, None]).any(axis=1).mean()) if len(labels) else 0.0


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b != 0)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class; 0 where a ratio is undefined."""
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0).astype(np.float64), cm.sum(axis=1).astype(np.float64)
    precision, recall = _safe_div(tp, predicted), _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def averages(cm: np.ndarray) -> dict[str, dict[str, float]]:
    """Macro (unweighted mean over classes) and weighted (by support) precision, recall and F1."""
    pc = per_class(cm)
    weights = pc["support"] / max(int(pc["support"].sum()), 1)
    out = {}
    for name, w in (("macro", np.full(len(weights), 1 / len(weights))), ("weighted", weights)):
        out[name] = {m: float((pc[m] * w).sum()) for m in ("precision", "recall", "f1")}
    return out


#: log-probability edges of the confidence histogram: true-class p < 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999, and above
CONFIDENCE_EDGES = tuple(float(np.log(p)) for p in (0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999))


def confidence_counts(log_probs: np.ndarray) -> list[int]:
    """How many images' true-class log-probability falls in each bin of CONFIDENCE_EDGES (8 counts): the shape the
    audit's confidence check compares (a memoriser answers its memorised faces with near-certainty).

    >>> confidence_counts(np.log(np.array([0.01, 0.3, 0.97, 0.9999])))
    [1, 0, 1, 0, 0, 1, 0, 1]
    """
    bins = np.searchsorted(np.asarray(CONFIDENCE_EDGES), np.asarray(log_probs, dtype=np.float64), side="right")
    return np.bincount(bins, minlength=len(CONFIDENCE_EDGES) + 1).astype(int).tolist()
