"""Rich terminal tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fercomp.data.info import DataSummary

console = Console()
if not console.is_terminal:
    # Piped output (CI logs, files) gets a width that fits a 7-class table instead of rich's 80.
    console = Console(width=140)


def print_data_summary(summary: DataSummary) -> None:
    """The `data info` table: one row per split, one column per class, roles marked."""
    table = Table(title=f"{summary.source}  ({summary.layout}, {summary.samples} images)")
    table.add_column("split")
    for name in summary.classes:
        table.add_column(name, justify="right")
    table.add_column("total", justify="right")
    table.add_column("role")
    for split, counts in summary.counts.items():
        role = "held out" if split == summary.held_out else ("validation" if split == summary.validation else "")
        if not role and split.lower() in ("training", "train"):
            role = "training"
        table.add_row(split, *map(str, counts), str(sum(counts)), role)
    console.print(table)
    console.print(f"images: all {summary.image_shape[0]}×{summary.image_shape[1]} grayscale")
    console.print(
        f"duplicates: {summary.duplicate_images} repeated images, {summary.duplicates_across_splits} shared "
        f"across splits, {summary.conflicting_labels} with conflicting labels"
    )
    console.print(f"sha256: {summary.sha256}")
