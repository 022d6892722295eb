"""The submission contract, trusted side: read a submission's file and metadata without running it.

PREPROCESS, CLASS_ORDER and WEIGHTS are read with `ast` as literals, so the parent learns them without
executing a line of submitted code. Building the model happens only in the worker (see build.py).
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fercomp.data.labels import CLASS_NAMES, class_index
from fercomp.errors import SubmissionError, UsageError
from fercomp.submission.preprocess import Preprocess, parse

WEIGHT_SUFFIXES = (".pt", ".pth", ".safetensors")
DEFAULT_MAX_WEIGHTS_MB = 1024


@dataclass(frozen=True)
class SubmissionFiles:
    """A submission as the trusted side knows it: files, hashes and declared metadata."""

    name: str
    path: Path
    source: str
    sha256: str
    weights_path: Path | None
    weights_sha256: str | None
    preprocess: Preprocess
    class_order: tuple[str, ...] | None

    @property
    def weights_format(self) -> str | None:
        if self.weights_path is None:
            return None
        return "safetensors" if self.weights_path.suffix == ".safetensors" else "torch"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _literals(tree: ast.Module, path: Path) -> dict[str, object]:
    """Top-level `NAME = <literal>` assignments for the contract's names."""
    found: dict[str, object] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id in ("PREPROCESS", "CLASS_ORDER", "WEIGHTS"):
                try:
                    found[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    raise SubmissionError(
                        f"{path}: {target.id} must be a literal (line {node.lineno}); fercomp reads it without running the file",
                        "bad_metadata",
                    ) from None
    return found


def _class_order(value: object, path: Path) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = list(value) if isinstance(value, (list, tuple)) else None
    canonical = [class_index(n) if isinstance(n, str) else None for n in names or []]
    if names is None or len(names) != len(CLASS_NAMES) or sorted(c for c in canonical if c is not None) != list(range(7)):
        raise SubmissionError(
            f"{path}: CLASS_ORDER must name each of the 7 classes once, e.g. {sorted(CLASS_NAMES)} "
            f"for alphabetical folders; got {value!r}",
            "bad_class_order",
        )
    return tuple(CLASS_NAMES[c] for c in canonical)


def find_weights(path: Path, declared: object, override: Path | None) -> Path | None:
    """--weights, else WEIGHTS (relative to the file), else <stem>.pt/.pth/.safetensors beside it."""
    if override is not None:
        if not Path(override).is_file():
            raise UsageError(f"{override}: weights file not found")
        return Path(override)
    if declared is not None:
        if not isinstance(declared, str):
            raise SubmissionError(f"{path}: WEIGHTS must be a file name string, got {declared!r}", "bad_metadata")
        candidate = (path.parent / declared).resolve()
        if not candidate.is_file():
            raise SubmissionError(f"{path}: WEIGHTS names {candidate}, which does not exist", "weights_missing")
        return candidate
    for suffix in WEIGHT_SUFFIXES:
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def read_submission(path: str | Path, weights: Path | None = None, max_weights_mb: int = DEFAULT_MAX_WEIGHTS_MB) -> SubmissionFiles:
    """Read and statically check a submission file; SubmissionError names the contract breach."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such submission file")
    if path.suffix != ".py":
        raise UsageError(f"{path}: a submission is a .py file defining the model")
    raw = path.read_bytes()
    try:
        source = raw.decode("utf-8")
        tree = ast.parse(source, filename=str(path))
    except UnicodeDecodeError:
        raise SubmissionError(f"{path}: not UTF-8 text", "syntax_error") from None
    except SyntaxError as exc:
        raise SubmissionError(f"{path}: line {exc.lineno}: syntax error: {exc.msg}", "syntax_error") from None
    meta = _literals(tree, path)
    try:
        preprocess = parse(meta.get("PREPROCESS"), str(path))
    except ValueError as exc:
        raise SubmissionError(str(exc), "bad_preprocess") from None
    weights_path = find_weights(path, meta.get("WEIGHTS"), weights)
    if weights_path is not None and weights_path.stat().st_size > max_weights_mb << 20:
        size_mb = weights_path.stat().st_size / (1 << 20)
        raise SubmissionError(
            f"{weights_path}: weights file is {size_mb:.0f} MB, over the {max_weights_mb} MB limit", "weights_too_large"
        )
    return SubmissionFiles(
        name=path.stem,
        path=path.resolve(),
        source=source,
        sha256=hashlib.sha256(raw).hexdigest(),
        weights_path=weights_path.resolve() if weights_path else None,
        weights_sha256=sha256_file(weights_path) if weights_path else None,
        preprocess=preprocess,
        class_order=_class_order(meta.get("CLASS_ORDER"), path),
    )


def weights_target(path: str | Path) -> Path:
    """Where training saves weights so that scoring finds them: WEIGHTS if declared, else <stem>.pt."""
    path = Path(path)
    try:
        declared = _literals(ast.parse(path.read_text(encoding="utf-8")), path).get("WEIGHTS")
    except SyntaxError as exc:
        raise SubmissionError(f"{path}: line {exc.lineno}: syntax error: {exc.msg}", "syntax_error") from None
    if isinstance(declared, str) and declared.endswith((".pt", ".pth")):
        return (path.parent / declared).resolve()
    return path.with_suffix(".pt").resolve()
