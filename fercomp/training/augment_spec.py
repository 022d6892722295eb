"""Augmentations as written in recipes: `crop:padding=2,mode=reflect`, `autocontrast:p=0.5`, or in TOML
`{ name = "crop", padding = 2, mode = "reflect" }`. Every parameter not given takes its default, which is
torchvision's wherever torchvision has one; the history records every value.

Where torchvision has no default (RandomCrop's padding, RandomAffine's and RandomRotation's degrees,
ColorJitter's brightness, which is off unless given) fercomp keeps the value its plain `--augment NAME`
has always meant, so an old recipe still means what it meant: crop padding 4, affine ±10°, rotate ±15°,
brightness 0.3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fercomp.errors import UsageError

_INTERPOLATIONS = ("nearest", "bilinear")
_PAD_MODES = ("constant", "edge", "reflect", "symmetric")

# name → parameter → (default, kind); kinds are checked and normalised by _value
PARAMETERS: dict[str, dict[str, tuple[object, str]]] = {
    "flip": {"p": (0.5, "prob")},  # RandomHorizontalFlip(p=0.5)
    "crop": {"padding": (4, "count"), "mode": ("constant", "pad_mode"), "fill": (0.0, "unit")},  # RandomCrop
    "affine": {"degrees": ((-10.0, 10.0), "symmetric"), "translate": ((0.0, 0.0), "fractions"),  # RandomAffine
               "scale": ((1.0, 1.0), "positive_range"), "shear": ((0.0, 0.0, 0.0, 0.0), "shear"),
               "interpolation": ("nearest", "interpolation"), "fill": (0.0, "unit")},
    "rotate": {"degrees": ((-15.0, 15.0), "symmetric"), "interpolation": ("nearest", "interpolation"),  # RandomRotation
               "fill": (0.0, "unit")},
    "autocontrast": {"p": (0.5, "prob")},  # RandomAutocontrast(p=0.5)
    "brightness": {"brightness": ((0.7, 1.3), "jitter")},  # ColorJitter(brightness=0.3)
    "erasing": {"p": (0.5, "prob"), "scale": ((0.02, 0.33), "unit_range"), "ratio": ((0.3, 3.3), "positive_range"),
                "value": (0.0, "unit")},  # RandomErasing
    "mixup": {"alpha": (0.2, "positive")},  # λ ~ Beta(alpha, alpha)
}
AUGMENTATIONS = tuple(PARAMETERS)


@dataclass(frozen=True)
class Augmentation:
    """One augmentation with every parameter resolved (defaults filled in), in PARAMETERS' order."""

    name: str
    params: tuple[tuple[str, object], ...]

    def kwargs(self) -> dict:
        return dict(self.params)

    def to_dict(self) -> dict:
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.params}}

    def spec(self) -> str:
        """The command-line form, every value written out (parses back to this augmentation)."""
        words = [f"{k}={json.dumps(list(v) if isinstance(v, tuple) else v, separators=(',', ':'))}".replace('"', "")
                 for k, v in self.params]
        return f"{self.name}:{','.join(words)}"


def _pair(value, where: str) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), float(value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_number(v) for v in value):
        return float(value[0]), float(value[1])
    raise UsageError(f"{where} must be a number or two numbers [low, high]")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value(kind: str, value, where: str):
    """`value` checked and normalised for its kind, or a UsageError naming `where`."""
    if kind in ("prob", "unit", "positive"):
        if not _number(value) or not (0 <= value <= 1 if kind != "positive" else value > 0):
            words = {"prob": "a probability 0–1", "unit": "a number 0–1 (pixel values are 0–1)", "positive": "a positive number"}
            raise UsageError(f"{where} must be {words[kind]}")
        return float(value)
    if kind == "count":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 24:
            raise UsageError(f"{where} must be a whole number of pixels, 0–23")
        return value
    if kind in ("pad_mode", "interpolation"):
        choices = _PAD_MODES if kind == "pad_mode" else _INTERPOLATIONS
        if value not in choices:
            raise UsageError(f"{where} must be one of {', '.join(choices)}")
        return value
    if kind == "symmetric":  # d → (-d, d), as torchvision's degrees
        low, high = (-abs(float(value)), abs(float(value))) if _number(value) else _pair(value, where)
    elif kind == "jitter":  # b → (max(0, 1 - b), 1 + b), as ColorJitter's brightness
        low, high = (max(0.0, 1 - float(value)), 1 + float(value)) if _number(value) else _pair(value, where)
    elif kind == "fractions":  # translate: a fraction of the width and of the height
        low, high = _pair(value, where)
        if not (0 <= low <= 1 and 0 <= high <= 1):
            raise UsageError(f"{where} must be fractions 0–1 of the width and height, e.g. [0.1, 0.1]")
        return low, high
    elif kind == "shear":  # s → x shear in (-s, s); [a, b] → x in (a, b); [a, b, c, d] → x in (a, b), y in (c, d)
        if isinstance(value, (list, tuple)) and len(value) == 4 and all(_number(v) for v in value):
            return tuple(float(v) for v in value)
        low, high = (-abs(float(value)), abs(float(value))) if _number(value) else _pair(value, where)
        return low, high, 0.0, 0.0
    else:  # positive_range, unit_range
        low, high = _pair(value, where)
        if low <= 0 or (kind == "unit_range" and high > 1):
            raise UsageError(f"{where} must be {'fractions in (0, 1]' if kind == 'unit_range' else 'positive numbers'}")
    if low > high:
        raise UsageError(f"{where} must be [low, high] with low ≤ high")
    return low, high


def make(name: str, params: dict, where: str) -> Augmentation:
    """An augmentation from its name and the parameters given; `where` prefixes every error."""
    if name not in PARAMETERS:
        raise UsageError(f"{where} {name}: unknown augmentation; expected any of {', '.join(AUGMENTATIONS)}")
    known = PARAMETERS[name]
    unknown = [k for k in params if k not in known]
    if unknown:
        raise UsageError(f"{where} {name}: unknown parameter '{unknown[0]}'; {name} takes {', '.join(known)}")
    resolved = tuple((k, _value(kind, params[k], f"{where} {name}: {k}") if k in params else default)
                     for k, (default, kind) in known.items())
    return Augmentation(name, resolved)


def _split_top_level(text: str) -> list[str]:
    """'a=1,b=[1,2]' → ['a=1', 'b=[1,2]']: commas inside brackets stay."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current] if current or parts else []


def _literal(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text  # a word: reflect, nearest, …


def parse(item, where: str = "--augment") -> Augmentation:
    """'crop:padding=2,mode=reflect', 'flip', {'name': 'crop', 'padding': 2} or an Augmentation."""
    if isinstance(item, Augmentation):
        return item
    if isinstance(item, dict):
        params = {k: v for k, v in item.items() if k != "name"}
        if "name" not in item:
            raise UsageError(f"{where}: an augmentation table needs a name, e.g. {{ name = \"crop\", padding = 2 }}")
        return make(str(item["name"]), params, where)
    if not isinstance(item, str):
        raise UsageError(f"{where}: {item!r} must be a name such as \"crop:padding=2\" or a table")
    name, _, rest = item.partition(":")
    params = {}
    for part in _split_top_level(rest):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{where} {item}: '{part}' must be KEY=VALUE, e.g. crop:padding=2,mode=reflect")
        params[key.strip()] = _literal(value.strip())
    return make(name.strip(), params, where)


def merged(base: tuple[Augmentation, ...], more: tuple[Augmentation, ...]) -> tuple[Augmentation, ...]:
    """`base` then `more`; an augmentation named again takes the new parameters in its old place."""
    out = {a.name: a for a in base}
    for aug in more:
        out[aug.name] = aug
    return tuple(out.values())
