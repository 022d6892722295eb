"""What a training run leaves behind: history.json (the recipe with every augmentation parameter, the data
used, where it ran, each epoch), history.csv (the epochs) and curves.png."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fercomp.atomic import write_text
from fercomp.training.recipe import Recipe


def write_history(history: list[dict], recipe: Recipe, out_dir: Path, data: dict, ran_on: dict) -> list[Path]:
    """history.json, history.csv and curves.png under `out_dir`; `data` says what it trained and validated on."""
    payload = {"recipe": recipe.to_dict(), "validation": data["validation"], "data": data, "ran_on": ran_on,
               "epochs": history}
    write_text(out_dir / "history.json", json.dumps(payload, indent=2) + "\n")
    buf = io.StringIO()
    if history:
        writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    write_text(out_dir / "history.csv", buf.getvalue())
    title = (f"{out_dir.name}: trained on {data.get('train_images', '?'):,} images, validated on {data['validation']} "
             f"({data.get('validation_images', '?'):,})")
    return [out_dir / "history.json", out_dir / "history.csv", _curves(history, out_dir / "curves.png", title)]


def _curves(history: list[dict], path: Path, title: str) -> Path:
    import matplotlib.pyplot as plt

    from fercomp.atomic import write_bytes

    fig = curves_figure(history, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_bytes(path, buf.getvalue())
    return path


def curves_figure(history: list[dict], title: str = "Training curves"):
    """Loss and accuracy (in %) against the epoch (whole-number ticks), titled, as a matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=100)
    left.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    left.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation loss")
    left.set_ylabel("loss (per image)")
    right.plot(epochs, [100 * h["val_accuracy"] for h in history], "o-", color="#2ca02c", label="validation accuracy")
    right.set_ylabel("validation accuracy (%)")
    right.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    fig.suptitle(title, fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.legend()
    fig.tight_layout()
    return fig
