"""The submission contract, trusted side: read a hand-in's files and metadata without running it.

A hand-in is the team's `.py`, its weights, and the extra files it declares. PREPROCESS, CLASS_ORDER,
WEIGHTS, WEIGHTS_URL, WEIGHTS_SHA256, FILES and BUILD_KWARGS are read with `ast` as literals, so the parent
learns them without executing a line of submitted code. Building the model happens only in the worker (see
build.py). BUILD_KWARGS is the one record of how the weights' model was built: `fercomp train --model-kwarg`
writes it (record_build_kwargs), and every command that builds the model passes it to build_model(**…).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from fercomp.data.labels import CLASS_NAMES, class_index
from fercomp.errors import SubmissionError, UsageError
from fercomp.hashing import sha256_bytes, sha256_file
from fercomp.submission.fetch import fetch_weights
from fercomp.submission.preprocess import Preprocess, parse
from fercomp.submission.staging import Handin

WEIGHT_SUFFIXES = (".pt", ".pth", ".safetensors")
DEFAULT_MAX_WEIGHTS_MB = 1024
_LITERALS = ("PREPROCESS", "CLASS_ORDER", "WEIGHTS", "WEIGHTS_URL", "WEIGHTS_SHA256", "FILES", "BUILD_KWARGS")


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
    extra_files: tuple[str, ...] = ()  # FILES: paths relative to the .py's folder, staged beside it
    weights_url: str | None = None  # WEIGHTS_URL, when the weights were fetched (and verified) from it
    build_kwargs: tuple[tuple[str, object], ...] = ()  # BUILD_KWARGS: build_model(**these) built the weights' model

    def kwargs_with(self, given: dict | None) -> dict:
        """The keyword arguments build_model gets: BUILD_KWARGS, with `given` (an ablation row's) over them."""
        return {**dict(self.build_kwargs), **dict(given or {})}

    @property
    def weights_format(self) -> str | None:
        if self.weights_path is None:
            return None
        return "safetensors" if self.weights_path.suffix == ".safetensors" else "torch"

    def handin(self) -> Handin:
        """What the worker is given to read: the .py, the declared FILES and the weights."""
        files = {self.path.name: self.path, **{name: self.path.parent / name for name in self.extra_files}}
        return Handin(main=self.path.name, origin=self.path.parent, files=files, weights=self.weights_path)


def _literals(tree: ast.Module, path: Path) -> dict[str, object]:
    """Top-level `NAME = <literal>` assignments for the contract's names."""
    found: dict[str, object] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _LITERALS:
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


def find_weights(path: Path, meta: dict, override: Path | None, max_weights_mb: int) -> Path | None:
    """--weights, else WEIGHTS (relative to the file), else WEIGHTS_URL (fetched and verified), else
    <stem>.pt/.pth/.safetensors beside the file."""
    declared, url = meta.get("WEIGHTS"), meta.get("WEIGHTS_URL")
    if override is not None:
        if not Path(override).is_file():
            raise UsageError(f"{override}: weights file not found")
        return Path(override)
    if declared is not None and url is not None:
        raise SubmissionError(f"{path}: declare WEIGHTS (a file) or WEIGHTS_URL (a download), not both", "bad_metadata")
    if declared is not None:
        if not isinstance(declared, str):
            raise SubmissionError(f"{path}: WEIGHTS must be a file name string, got {declared!r}", "bad_metadata")
        candidate = (path.parent / declared).resolve()
        if not candidate.is_file():
            raise SubmissionError(f"{path}: WEIGHTS names {candidate}, which does not exist", "weights_missing")
        _own(path, declared, candidate, "WEIGHTS")
        return candidate
    if url is not None:
        sha = meta.get("WEIGHTS_SHA256")
        if not isinstance(url, str) or not isinstance(sha, str):
            raise SubmissionError(f"{path}: WEIGHTS_URL needs WEIGHTS_SHA256 beside it, both strings "
                                  "(the hash pins the exact file: sha256sum FILE)", "bad_metadata")
        return fetch_weights(url, sha.lower(), path, max_weights_mb, WEIGHT_SUFFIXES)
    for suffix in WEIGHT_SUFFIXES:
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            # the same check as WEIGHTS: `<team>.pt` handed in as a link to the data file (git keeps links) had
            # the parent stage the labelled CSV into the worker's home (tests/hostile/cases/weights_link_to_data.py)
            _own(path, candidate.name, candidate, "weights")
            return candidate
    return None


def _own(path: Path, name: str, candidate: Path, key: str) -> None:
    """A hand-in may declare only its own files: `<team>.<ext>` beside its .py, or anything under a folder
    named `<team>/` there (after following symlinks). Otherwise a team could name another team's weights."""
    folder, resolved = path.parent.resolve(), candidate.resolve()
    if (resolved.parent == folder and resolved.stem == path.stem) or (folder / path.stem) in resolved.parents:
        return
    link = f" (a link to {resolved})" if resolved != candidate.absolute() else ""
    raise SubmissionError(f"{path}: {key} entry {name!r}{link} is not this team's file; a hand-in's own files are "
                          f"{path.stem}.<ext> beside it or anything under {path.stem}/", "not_own_file")


def _extra_files(value: object, path: Path) -> tuple[str, ...]:
    """FILES: relative paths inside the .py's folder, each an existing file; nothing outside it."""
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SubmissionError(f"{path}: FILES must be a list of file names, e.g. FILES = [\"vocab.json\"]; got {value!r}",
                              "bad_metadata")
    folder = path.parent.resolve()
    out = []
    for name in value:
        candidate = (folder / name).resolve()
        if Path(name).is_absolute() or folder not in candidate.parents:
            raise SubmissionError(f"{path}: FILES entry {name!r} must be a relative path inside {folder}", "bad_metadata")
        if not candidate.is_file():
            raise SubmissionError(f"{path}: FILES declares {name!r}, but {candidate} does not exist; "
                                  f"hand it in under {path.stem}/ or remove it from FILES", "file_missing")
        _own(path, name, candidate, "FILES")
        out.append(candidate.relative_to(folder).as_posix())
    return tuple(dict.fromkeys(out))


def _parse(path: Path) -> tuple[bytes, str, dict[str, object]]:
    """The file's bytes, its text and its contract literals."""
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
    return raw, source, _literals(tree, path)


def declared_hashes(path: str | Path) -> tuple[str, str | None]:
    """(sha256 of the .py, sha256 of its weights) without downloading anything: a local weights file is
    hashed, a WEIGHTS_URL's pinned WEIGHTS_SHA256 is taken as declared. For staleness and record checks."""
    path = Path(path)
    raw, _, meta = _parse(path)
    if meta.get("WEIGHTS_URL") is not None and meta.get("WEIGHTS") is None and isinstance(meta.get("WEIGHTS_SHA256"), str):
        return sha256_bytes(raw), str(meta["WEIGHTS_SHA256"]).lower()
    weights = find_weights(path, meta, None, DEFAULT_MAX_WEIGHTS_MB)
    return sha256_bytes(raw), sha256_file(weights) if weights else None


def read_submission(path: str | Path, weights: Path | None = None, max_weights_mb: int = DEFAULT_MAX_WEIGHTS_MB) -> SubmissionFiles:
    """Read and statically check a submission file; SubmissionError names the contract breach."""
    path = Path(path)
    raw, source, meta = _parse(path)
    try:
        preprocess = parse(meta.get("PREPROCESS"), str(path))
    except ValueError as exc:
        raise SubmissionError(str(exc), "bad_preprocess") from None
    weights_path = find_weights(path, meta, weights, max_weights_mb)
    if weights_path is not None and weights_path.stat().st_size > max_weights_mb << 20:
        size_mb = weights_path.stat().st_size / (1 << 20)
        raise SubmissionError(
            f"{weights_path}: weights file is {size_mb:.0f} MB, over the {max_weights_mb} MB limit", "weights_too_large"
        )
    return SubmissionFiles(
        name=path.stem,
        path=path.resolve(),
        source=source,
        sha256=sha256_bytes(raw),
        weights_path=weights_path.resolve() if weights_path else None,
        weights_sha256=sha256_file(weights_path) if weights_path else None,
        preprocess=preprocess,
        class_order=_class_order(meta.get("CLASS_ORDER"), path),
        extra_files=_extra_files(meta.get("FILES"), path),
        weights_url=meta.get("WEIGHTS_URL") if weights is None and meta.get("WEIGHTS") is None else None,
        build_kwargs=tuple(build_kwargs(meta.get("BUILD_KWARGS"), path).items()),
    )


def build_kwargs(value: object, path: Path) -> dict:
    """BUILD_KWARGS: a dict of literal keyword arguments for build_model (absent: none)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and k.isidentifier() for k in value):
        raise SubmissionError(f"{path}: BUILD_KWARGS must be a dict of keyword arguments for build_model, e.g. "
                              f"BUILD_KWARGS = {{\"dropout\": 0.3}}; got {value!r}", "bad_metadata")
    return dict(value)


def literal_kwargs(kwargs: dict, where: str) -> dict:
    """`kwargs` if each value can be written as a Python literal (so BUILD_KWARGS can record it), else a
    UsageError naming the one that cannot."""
    for key, value in kwargs.items():
        try:
            ok = ast.literal_eval(repr(value)) == value
        except (ValueError, SyntaxError):
            ok = False
        if not key.isidentifier() or not ok:
            raise UsageError(f"{where}: model keyword argument {key}={value!r} cannot be recorded in the hand-in "
                             "(BUILD_KWARGS holds literals: numbers, strings, booleans, lists, dicts)")
    return kwargs


def record_build_kwargs(path: str | Path, kwargs: dict) -> bool:
    """Write `BUILD_KWARGS = {…}` into the hand-in (replacing the one there, else appended) so that check,
    score, report and predict build the model its weights were trained on. False when it already says so."""
    from fercomp.atomic import write_text

    path = Path(path)
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    declared = _literals(tree, path).get("BUILD_KWARGS")
    if (declared or {}) == kwargs:
        return False
    line = f"BUILD_KWARGS = {dict(sorted(kwargs.items()))!r}"
    lines = source.splitlines(keepends=True)
    node = next((n for n in tree.body if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "BUILD_KWARGS" for t in n.targets)), None)
    if node is not None:
        lines[node.lineno - 1 : node.end_lineno] = [line + "\n"]
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines += ["\n", "# Written by fercomp train: the model these weights were trained on is build_model(**BUILD_KWARGS);\n",
                  "# check, score, report and predict build it so.\n", line + "\n"]
    write_text(path, "".join(lines))
    return True


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
