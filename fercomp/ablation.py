"""Ablation studies: a TOML spec → rows of method combinations → train + score each → records → tables.

Spec (TOML):
    submission = "submissions/team.py"     # relative to the spec file
    data = "data/fer2013.csv"
    design = "cumulative"                  # row k turns on methods 1..k; or "factorial": all 2^k rows
    recipe_file = "recipes/report.toml"    # optional: the base recipe from a recipe file, [recipe] over it
    seeds = 1                              # repeats per row, reported as mean ± std
    [recipe]                               # the base recipe (fercomp train's options)
    epochs = 2
    [[method]]
    name = "flip"
    augment = ["flip"]                     # recipe changes …
    [[method]]
    name = "batchnorm"
    model_kwargs = { batchnorm = true }    # … or build_model(**kwargs) changes
Every row's record is cached under the study folder by a hash of its full configuration, so an
interrupted study resumes and re-rendering costs nothing.
"""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from fercomp.version import __version__
from fercomp.errors import UsageError
from fercomp.hashing import sha256_json
from fercomp.records import ScoreRecord, read_record
from fercomp.training.recipe import Recipe
from fercomp.training.recipe_file import load_recipe, read_toml, recipe_changes

DESIGNS = ("cumulative", "factorial")


@dataclass(frozen=True)
class Method:
    name: str
    changes: dict  # recipe keys (augment extends the list) and/or model_kwargs


@dataclass(frozen=True)
class Study:
    name: str
    submission: Path
    data: Path
    design: str
    seeds: int
    base: Recipe
    methods: tuple[Method, ...]


@dataclass(frozen=True)
class Row:
    flags: tuple[bool, ...]  # which methods are on
    recipe: Recipe
    seed: int

    def key(self, study: Study, submission_sha: str) -> str:
        return sha256_json({"submission": submission_sha, "data": str(study.data), "recipe": self.recipe.to_dict(),
                            "seed": self.seed, "fercomp": __version__})[:16]


def load_spec(path: Path) -> Study:
    """Read and check a study spec; errors name the file and the key."""
    path = Path(path)
    raw = read_toml(path, "ablation spec")
    unknown = set(raw) - {"submission", "data", "design", "seeds", "recipe", "recipe_file", "method", "name"}
    if unknown:
        raise UsageError(f"{path}: unknown key '{sorted(unknown)[0]}'; expected submission, data, design, seeds, "
                         "recipe_file, recipe, method")
    for key in ("submission", "data"):
        if key not in raw:
            raise UsageError(f"{path}: missing '{key}'")
    design = raw.get("design", "cumulative")
    if design not in DESIGNS:
        raise UsageError(f"{path}: design '{design}' must be cumulative or factorial")
    methods = tuple(_method(m, path) for m in raw.get("method", []))
    if not methods:
        raise UsageError(f"{path}: no [[method]] tables; name at least one method to ablate")
    base_changes = recipe_changes(raw.get("recipe", {}), f"{path}: [recipe]")
    base = load_recipe(path.parent / raw["recipe_file"]) if "recipe_file" in raw else Recipe()
    return Study(name=raw.get("name", path.stem), submission=(path.parent / raw["submission"]).resolve(),
                 data=(path.parent / raw["data"]).resolve(), design=design, seeds=int(raw.get("seeds", 1)),
                 base=base.with_changes(**base_changes).validated(), methods=methods)


def _method(table: dict, path: Path) -> Method:
    if "name" not in table:
        raise UsageError(f"{path}: a [[method]] has no name")
    return Method(name=str(table["name"]), changes=recipe_changes(table, f"{path}: method '{table['name']}'", skip=("name",)))


def rows(study: Study) -> list[Row]:
    """The design's rows × seeds, in table order."""
    k = len(study.methods)
    if study.design == "cumulative":
        patterns = [tuple(i < n for i in range(k)) for n in range(k + 1)]
    else:
        patterns = [tuple(bool(b) for b in bits) for bits in itertools.product((0, 1), repeat=k)]
        patterns.sort(key=lambda p: (sum(p), [not b for b in p]))
    out = []
    for pattern in patterns:
        recipe = study.base
        for on, method in zip(pattern, study.methods):
            if on:
                recipe = recipe.with_changes(**method.changes)
        for seed in range(study.seeds):
            out.append(Row(flags=pattern, recipe=recipe.with_changes(seed=study.base.seed + seed).validated(), seed=study.base.seed + seed))
    return out


def check_builds(study: Study) -> list[str]:
    """Build every row's model once, in this process as training will (the file's BUILD_KWARGS with the row's
    model_kwargs), and find each row's starting point; one line per distinct build. A model that cannot be
    built is a SubmissionError naming the spec's submission file and the row, before any row trains."""
    from fercomp.errors import SubmissionError
    from fercomp.training import pretrained
    from fercomp.training.run import build_from_file

    if not study.submission.is_file():
        raise UsageError(f"{study.submission}: no such submission (named by the spec)")
    built: dict[tuple, str] = {}
    for row in rows(study):
        recipe = row.recipe
        key = (recipe.model_kwargs, recipe.pretrained, recipe.init)
        if key in built:
            continue
        try:
            model, _, kwargs = build_from_file(study.submission, dict(recipe.model_kwargs))
            start = pretrained.describe_start(model, recipe.pretrained, recipe.init)
        except SubmissionError as exc:
            raise SubmissionError(f"{exc.message} (row: {row_label(study, row)})", exc.reason) from None
        except UsageError as exc:
            raise UsageError(f"{exc.message} (row: {row_label(study, row)})") from None
        params = sum(p.numel() for p in model.parameters())
        built[key] = f"{row_label(study, row)}: builds ({params:,} parameters{_kwargs_note(kwargs)}); {start}"
    return list(built.values())


def _kwargs_note(kwargs: dict) -> str:
    return f", build_model(**{kwargs!r})" if kwargs else ""


def run(study: Study, out_dir: Path, score_config, progress: bool = True) -> list[tuple[Row, ScoreRecord]]:
    """Train and score every row not already cached; returns (row, record) in table order."""
    from dataclasses import replace

    from fercomp.data.source import load_data
    from fercomp.records import record_path
    from fercomp.scoring import score_submission, scoring_split
    from fercomp.hashing import sha256_file
    from fercomp.training.run import train_file

    check_builds(study)  # every row's model before the first trains: a failure names the team's file, not a copy
    submission_sha = sha256_file(study.submission)
    # the split as scoring will name it (PrivateTest, or test for a folder source): the cache is found by it
    split = scoring_split(score_config, load_data(study.data, held_out=score_config.held_out))
    results = []
    table = rows(study)
    for number, row in enumerate(table, 1):
        row_dir = Path(out_dir) / "rows" / row.key(study, submission_sha)
        record_file = record_path(row_dir / "results", study.submission.stem, split)
        cached = record_file.exists()
        if progress:  # a heading, so the training's per-epoch lines below it say which row they belong to
            _say(f"row {number}/{len(table)}: {row_label(study, row)} — "
                 + ("cached" if cached else f"training {row.recipe.epochs} epoch(s), then scoring"))
        if cached:
            results.append((row, read_record(record_file)))
            continue
        row_dir.mkdir(parents=True, exist_ok=True)
        sub = row_dir / study.submission.name
        shutil.copy(study.submission, sub)
        (row_dir / "row.json").write_text(json.dumps({"flags": row.flags, "recipe": row.recipe.to_dict()}, indent=2))
        train_file(sub, study.data, row.recipe, out_dir=row_dir / "train", progress=progress)
        record = score_submission(sub, replace(score_config, data=study.data, out_dir=row_dir / "results",
                                               model_kwargs=row.recipe.model_kwargs))
        results.append((row, record))
    return results


def row_label(study: Study, row: Row) -> str:
    """The methods a row switches on ("baseline recipe" when none), with its seed when the study has several."""
    names = [m.name for on, m in zip(row.flags, study.methods) if on]
    return (" + ".join(names) or "baseline recipe") + (f", seed {row.seed}" if study.seeds > 1 else "")


def _say(text: str) -> None:
    from rich.console import Console

    Console(highlight=False).print(text)


def write_index(study: Study, results: list[tuple[Row, ScoreRecord]], out_dir: Path) -> Path:
    """study.json: the methods, the design and which cached rows make up this table, in order."""
    from fercomp.atomic import write_text
    from fercomp.hashing import sha256_file

    sha = sha256_file(study.submission)
    index = {"name": study.name, "design": study.design, "methods": [m.name for m in study.methods],
             "rows": [{"key": row.key(study, sha), "flags": list(row.flags), "seed": row.seed} for row, _ in results]}
    path = Path(out_dir) / "study.json"
    write_text(path, json.dumps(index, indent=2) + "\n")
    return path


def read_study(folder: Path) -> tuple[dict, list[tuple[tuple[bool, ...], ScoreRecord]]]:
    """A finished (or partly finished) study from its folder: the index and each row's record."""
    folder = Path(folder)
    index_path = folder / "study.json"
    if not index_path.is_file():
        raise UsageError(f"{folder}: no study.json; pass a folder written by `fercomp ablate SPEC`")
    index = json.loads(index_path.read_text())
    results = []
    for row in index["rows"]:
        found = sorted((folder / "rows" / row["key"] / "results").glob("*.json"))
        if not found:
            raise UsageError(f"{folder}: row {row['key']} has no record yet; re-run the study to finish it")
        results.append((tuple(row["flags"]), read_record(found[0])))
    return index, results


def write_tables(folder: Path, symbols: tuple[str, str] = ("Y", "N")) -> tuple[str, list[Path]]:
    """Render a study's ablation.md and ablation.tex from its records alone; (the Markdown, the files)."""
    from fercomp.atomic import write_text
    from fercomp.render import ablation_tables as tables

    index, results = read_study(folder)
    summary = tables.summarize(index["methods"], results)
    md = tables.to_markdown(index["methods"], summary, index["design"], symbols)
    write_text(folder / "ablation.md", md)
    write_text(folder / "ablation.tex", tables.to_latex(index["methods"], summary, index["design"], symbols, index["name"]))
    return md, [folder / "ablation.md", folder / "ablation.tex"]
