"""`fercomp report SUB`: the student's report pack, from the score record and the training history.

The sample-prediction grid runs the team's own model on validation (PublicTest) faces in this process,
like `fercomp train` does; the numbers all come from the score record.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from fercomp.atomic import write_bytes, write_text
from fercomp.errors import UsageError
from fercomp.records import read_record, record_path
from fercomp.render import report_pack


def layer_table(model) -> list[tuple[str, str, int]]:
    """(name, type, parameters) of each top-level child of the model."""
    return [(name, type(child).__name__, sum(p.numel() for p in child.parameters())) for name, child in model.named_children()] \
        or [("model", type(model).__name__, sum(p.numel() for p in model.parameters()))]


def build_report(submission: Path, data: Path, results: Path, history_dir: Path, out: Path,
                 ablation: Path | None = None, split: str = "PrivateTest", samples: int = 24) -> list[Path]:
    """Write summary.md, summary.tex, confusion.png, curves.png and samples.png under `out`."""
    import torch

    from fercomp.data.source import load_data
    from fercomp.submission.contract import read_submission
    from fercomp.submission.preprocess import apply
    from fercomp.train.run import build_from_file

    record_file = record_path(results, Path(submission).stem, split)
    if not record_file.exists():
        raise UsageError(f"{record_file}: no score record; run `fercomp score {submission} --data …` first")
    record = read_record(record_file)
    if record.status != "scored":
        raise UsageError(f"{record_file}: the submission failed ({(record.failure or {}).get('reason')}); nothing to report")
    model, spec = build_from_file(Path(submission), record.submission.get("model_kwargs") or {})
    files = read_submission(submission)
    if files.weights_path:
        from fercomp.submission.build import load_weights, read_state_dict

        load_weights(model, read_state_dict(files.weights_path.read_bytes(), files.weights_format, False))
    model.eval()
    written = []
    curves = Path(history_dir) / "curves.png"
    if curves.exists():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(curves, out / "curves.png")
        written.append(out / "curves.png")
    write_bytes(out / "confusion.png", report_pack.confusion_png(record))
    loaded = load_data(data)
    val = loaded.select(loaded.validation or loaded.split_names[0])
    pick = np.random.default_rng(0).choice(len(val), size=min(samples, len(val)), replace=False)
    with torch.inference_mode():
        outputs = model(apply(val.images[pick], spec))
    if files.class_order:
        from fercomp.data.labels import CLASS_NAMES

        outputs = outputs[:, [files.class_order.index(n) for n in CLASS_NAMES]]
    write_bytes(out / "samples.png", report_pack.samples_png(val.images[pick], val.labels[pick], outputs.argmax(1).numpy()))
    layers = layer_table(model)
    ablation_md = (Path(ablation) / "ablation.md").read_text() if ablation and (Path(ablation) / "ablation.md").exists() else None
    write_text(out / "summary.md", report_pack.markdown(record, layers, ablation_md))
    write_text(out / "summary.tex", report_pack.latex(record, layers))
    return written + [out / "confusion.png", out / "samples.png", out / "summary.md", out / "summary.tex"]
