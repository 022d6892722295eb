"""`fercomp report SUB`: the student's report pack, from the score record and the training history.

Every number comes from the score record. The per-layer summary and the sample predictions come from
the sandboxed worker (fercomp.submission.session): this process never runs the submission's code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from fercomp.atomic import write_bytes, write_text
from fercomp.errors import UsageError
from fercomp.records import read_record, record_path
from fercomp.render import report_pack


def build_report(submission: Path, data: Path, results: Path, history_dir: Path, out: Path,
                 ablation: Path | None = None, split: str = "PrivateTest", samples: int = 24) -> list[Path]:
    """Write summary.md, summary.tex, confusion.png, samples.png (and curves.png with a history) under `out`."""
    from fercomp.data.cache import cache_dir
    from fercomp.data.source import load_data
    from fercomp.submission.contract import read_submission
    from fercomp.submission.runner import Limits, WorkerFailure
    from fercomp.submission.session import Session

    record_file = record_path(results, Path(submission).stem, split)
    if not record_file.exists():
        raise UsageError(f"{record_file}: no score record; run `fercomp score {submission} --data … --split {split}` first")
    record = read_record(record_file)
    if record.status != "scored":
        raise UsageError(f"{record_file}: the submission failed ({(record.failure or {}).get('reason')}); nothing to report")
    loaded = load_data(data)
    _refuse_out_of_date(record, record_file, Path(submission), loaded.source_sha256, split)
    val = loaded.select(loaded.validation or loaded.split_names[0])
    pick = np.sort(np.random.default_rng(0).choice(len(val), size=min(samples, len(val)), replace=False))
    files = read_submission(submission)
    try:
        with Session(files, Limits(), "cpu", [Path(data), cache_dir(), Path(results)],
                     build_kwargs=record.submission.get("model_kwargs") or {}) as session:
            predictions = session.predict(val.images[pick]).argmax(1)
            layers = session.summary()
    except WorkerFailure as exc:
        raise UsageError(f"{submission}: the model failed in the sandbox ({exc.reason}: {exc.detail})") from None
    out = Path(out)
    written = []
    curves = Path(history_dir) / "curves.png"
    if curves.exists():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(curves, out / "curves.png")
        written.append(out / "curves.png")
    write_bytes(out / "confusion.png", report_pack.confusion_png(record))
    write_bytes(out / "samples.png", report_pack.samples_png(val.images[pick], val.labels[pick], predictions))
    figures = [p.name for p in written] + ["confusion.png", "samples.png"]
    ablation_md = (Path(ablation) / "ablation.md").read_text() if ablation and (Path(ablation) / "ablation.md").exists() else None
    write_text(out / "summary.md", report_pack.markdown(record, layers, ablation_md, figures))
    write_text(out / "summary.tex", report_pack.latex(record, layers))
    return written + [out / "confusion.png", out / "samples.png", out / "summary.md", out / "summary.tex"]


def _refuse_out_of_date(record, record_file: Path, submission: Path, data_sha256: str, split: str) -> None:
    """A record of another version of the hand-in (its .py or weights changed since it was scored) or of other
    data would put its numbers beside a layer table and samples of the new one: refuse, saying what changed."""
    from fercomp.submission.contract import declared_hashes

    py_sha, weights_sha = declared_hashes(submission)
    changed = [what for what, now, then in (("the .py", py_sha, record.submission.get("sha256")),
                                            ("its weights", weights_sha, record.submission.get("weights_sha256")),
                                            ("the data", data_sha256, record.data.get("sha256"))) if now != then]
    if changed:
        raise UsageError(f"{record_file}: out of date: {' and '.join(changed)} changed since it was scored; run "
                         f"`fercomp score {submission} --data … --split {split}` again, then the report")
