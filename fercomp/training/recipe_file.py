"""Recipes as files: a TOML file whose keys are `fercomp train`'s options, checked as fercomp.toml is
(one line naming the file and the key). The same checks serve ablation specs' [recipe] and [[method]].

    # baselines/baseline_cnn.toml
    optimizer = "adam"
    lr = 1e-3
    batch_size = 400
    epochs = 10
    augment = ["crop:padding=2,mode=reflect", { name = "autocontrast", p = 0.5 }]
    model_kwargs = { dropout = 0.3 }
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from fercomp.errors import UsageError
from fercomp.training import augment_spec
from fercomp.training.recipe import CHOICES, Recipe

RECIPE_KEYS = tuple(f.name for f in fields(Recipe))
_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def recipe_changes(table: dict, where: str, skip: tuple[str, ...] = ()) -> dict:
    """`table`'s recipe options, type-checked, as Recipe.with_changes takes them; `where` prefixes errors
    (e.g. 'recipe.toml:' or 'study.toml: method \"flip\":'); keys in `skip` are the caller's."""
    defaults = Recipe()
    changes: dict = {}
    for key, value in table.items():
        if key in skip:
            continue
        if key not in RECIPE_KEYS:
            raise UsageError(f"{where} unknown option '{key}'; recipe options: {', '.join(RECIPE_KEYS)}")
        if key == "augment":
            if not isinstance(value, list):
                raise UsageError(f"{where} augment = {value!r} must be a list, e.g. [\"flip\", \"crop:padding=2\"]")
            changes[key] = tuple(augment_spec.parse(item, f"{where} augment") for item in value)
        elif key == "model_kwargs":
            if not isinstance(value, dict):
                raise UsageError(f"{where} model_kwargs = {value!r} must be a table, e.g. {{ dropout = 0.3 }}")
            changes[key] = tuple(sorted(value.items()))
        else:
            changes[key] = _checked(key, value, getattr(defaults, key), where)
    return changes


def _checked(key: str, value, default, where: str):
    expected = type(default)
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    ok = ok or (expected is float and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise UsageError(f"{where} {key} = {value!r} must be {_TYPE_WORDS[expected]}")
    if key in CHOICES and value not in CHOICES[key]:
        raise UsageError(f"{where} {key} = {value!r} must be one of {', '.join(CHOICES[key])}")
    if expected in (int, float) and value < 0:
        raise UsageError(f"{where} {key} = {value!r} must not be negative")
    if key in ("lr", "batch_size", "epochs") and value <= 0:
        raise UsageError(f"{where} {key} = {value!r} must be positive")
    return float(value) if expected is float else value


def read_toml(path: Path, what: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such {what}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None


def load_recipe(path: Path, base: Recipe | None = None) -> Recipe:
    """The recipe in `path` (over `base`, the defaults if None); every error names the file and the key."""
    changes = recipe_changes(read_toml(path, "recipe file"), f"{path}:")
    recipe = (base or Recipe()).with_changes(**changes)
    try:
        return recipe.validated()
    except UsageError as exc:
        raise UsageError(f"{path}: {exc.message}") from None
