"""The student's report pack from a score record: Markdown/LaTeX fragments and figures. No torch."""

from __future__ import annotations

import io
from pathlib import Path

from fercomp.data.labels import CLASS_NAMES
from fercomp.records import ScoreRecord
from fercomp.render import tables


def exact_division(numerator: float, denominator: float, decimals: int = 2) -> tuple[str, str, str]:
    """(numerator, denominator, quotient) as text, each operand with just enough significant digits that
    dividing the printed operands gives the printed quotient (to `decimals` places)."""
    quotient = f"{numerator / denominator:,.{decimals}f}"
    for digits in range(4, 18):
        n, d = f"{numerator:.{digits}g}", f"{denominator:.{digits}g}"
        if f"{float(n) / float(d):,.{decimals}f}" == quotient:
            return n, d, quotient
    return repr(numerator), repr(denominator), quotient


def efficiency_sentence(record: ScoreRecord) -> str:
    acc = 100 * record.accuracy
    if not record.gflops:
        return f"efficiency is undefined: no multiply-adds were counted (accuracy {acc:.2f} %)"
    n, d, q = exact_division(acc, record.gflops)
    return f"efficiency = accuracy % ÷ GFLOPs = {n} ÷ {d} = {q}"


def _shape(value) -> str:
    return "×".join(map(str, value)) if isinstance(value, list) else str(value or "")


def markdown(record: ScoreRecord, layers: list[dict], ablation_md: str | None, figures: list[str]) -> str:
    """Model summary, the efficiency calculation, per-class metrics, the figures written and the ablation table."""
    lines = [f"## {record.name}: results on {record.split} ({record.data['size']} images)", "",
             "### Model", "", "Every leaf module on one preprocessed input (FLOPs by fvcore, 1 multiply-add = 1 FLOP):", "",
             tables.markdown(*_layer_table(layers)).rstrip("\n")]
    lines += ["", f"Parameters: {record.params_total:,} ({record.params_trainable:,} trainable). "
              f"GFLOPs (fvcore, one {record.flops.get('input_shape')} input, 1 multiply-add = 1 FLOP): {record.gflops or 0:.4f}.",
              "", "### Accuracy and efficiency", "",
              f"Accuracy: {100 * record.accuracy:.2f} % (top-2: {100 * record.top2_accuracy:.2f} %), pooled over the split.", "",
              efficiency_sentence(record), "", tables.markdown(*_class_table(record, "*{} average*")).rstrip("\n")]
    captions = {"confusion.png": "confusion matrix", "curves.png": "training curves", "samples.png": "sample predictions"}
    lines.append("")
    for name in ("confusion.png", "curves.png", "samples.png"):
        if name in figures:
            lines += [f"![{captions[name]}]({name})", ""]
    if ablation_md:
        lines += ["### Ablation study", "", ablation_md]
    return "\n".join(lines) + "\n"


def _layer_table(layers: list[dict]) -> tuple[list[str], list[list[str]]]:
    return (["layer", "type", "output shape", "parameters", "FLOPs"],
            [[r["name"], r["type"], _shape(r["output_shape"]), f"{r['params']:,}", f"{r['flops']:,}"] for r in layers])


def _class_table(record: ScoreRecord, average: str) -> tuple[list[str], list[list[str]]]:
    rows = [[c["class"], f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"])]
            for c in record.per_class]
    for name in ("macro", "weighted"):
        a = record.averages[name]
        rows.append([average.format(name), f"{a['precision']:.3f}", f"{a['recall']:.3f}", f"{a['f1']:.3f}", ""])
    return ["class", "precision", "recall", "F1", "support"], rows


def latex(record: ScoreRecord, layers: list[dict]) -> str:
    """The layer table, the efficiency line and the per-class table; compiles with booktabs loaded."""
    if record.gflops:
        n, d, q = exact_division(100 * record.accuracy, record.gflops)
        efficiency = f"Efficiency $= {n} \\div {d} = {q.replace(',', '{,}')}$ (accuracy \\% $\\div$ GFLOPs).\n\n"
    else:
        efficiency = "Efficiency is undefined: no multiply-adds were counted.\n\n"
    layer_headers, layer_rows = _layer_table(layers)
    layer_rows = [[*r[:3], r[3].replace(",", "{,}"), r[4].replace(",", "{,}")] for r in layer_rows]
    return (tables.latex(layer_headers, layer_rows, "lllrr").replace("\\{,\\}", "{,}") + "\n" + efficiency
            + tables.latex(*_class_table(record, "{} average"), "lrrrr"))


def confusion_png(record: ScoreRecord) -> bytes:
    """Heat map of the confusion matrix (rows true, columns predicted), counts written in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cm = np.asarray(record.confusion_matrix)
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    image = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(7), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(7), CLASS_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(7):
        for j in range(7):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > cm.max() / 2 else "black", fontsize=8)
    fig.colorbar(image)
    ax.set_title(f"{record.name}: {100 * record.accuracy:.2f} % on {record.split}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def samples_png(images, labels, predictions, probabilities=None, names=None) -> bytes:
    """The sample grid (samples_figure) as PNG bytes."""
    import matplotlib.pyplot as plt

    fig = samples_figure(images, labels, predictions, probabilities, names)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def samples_figure(images, labels, predictions, probabilities=None, names=None):
    """A grid of faces titled true/predicted; correct ones in green with ✓, wrong ones in red. Without
    true labels (None), each face is titled with its prediction (and probability when given); `names`
    (file names) head the titles. Up to 6 faces a row, and no wider than the faces need."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = max(1, min(6, len(images)))
    rows = (len(images) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * (2.2 if names else 1.9)), dpi=100, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (ax, image, pred) in enumerate(zip(axes.ravel(), images, predictions)):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        name = f"{_short(Path(str(names[k])).name)}\n" if names else ""
        if labels is None:
            sure = f" {100 * probabilities[k]:.0f} %" if probabilities is not None else ""
            ax.set_title(f"{name}→ {CLASS_NAMES[pred]}{sure}", fontsize=7)
            continue
        ok = labels[k] == pred
        ax.set_title(f"{name}{'✓' if ok else '✗'} {CLASS_NAMES[labels[k]]}\n→ {CLASS_NAMES[pred]}", fontsize=7,
                     color="green" if ok else "red")
    fig.tight_layout()
    return fig


def _short(name: str, width: int = 20) -> str:
    """A file name cut to fit above a 1.6-inch face: its start and its extension kept."""
    return name if len(name) <= width else name[: width - 7] + "…" + name[-6:]
