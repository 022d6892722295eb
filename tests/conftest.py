"""Shared fixtures: small synthetic FER sources, an isolated cache, a CLI runner."""

from __future__ import annotations

import numpy as np
import pytest

from fercomp.cli import main
from fercomp.data.synth import SynthSpec, generate, write_csv, write_folder

SMALL = SynthSpec(n_train=600, n_public=150, n_private=150, seed=7)


@pytest.fixture(scope="session")
def _exported_programs(tmp_path_factory):
    return tmp_path_factory.mktemp("exported")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch, _exported_programs):
    """Every test gets its own data cache, so no test sees another's entries. Exported programs are keyed by
    the hand-in's content, so one folder serves the session (a fixture scored again is not exported again)."""
    monkeypatch.setenv("FERCOMP_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(_exported_programs))


@pytest.fixture(scope="session")
def small_arrays():
    return generate(SMALL)


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory, small_arrays):
    path = tmp_path_factory.mktemp("csv") / "fer2013.csv"
    write_csv(path, *small_arrays)
    return path


@pytest.fixture(scope="session")
def small_folder(tmp_path_factory, small_arrays):
    root = tmp_path_factory.mktemp("folder") / "fer"
    write_folder(root, *small_arrays)
    return root


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run `fercomp ARGS` in-process: (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def cli(capsys):
    return lambda *args: run_cli(capsys, *[str(a) for a in args])


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def csv_text(rows: list[tuple]) -> str:
    """A FER CSV from (emotion, pixels, usage) rows; pixels may be a list of ints or a raw string."""
    out = ["emotion,pixels,Usage"]
    for emotion, pixels, usage in rows:
        text = pixels if isinstance(pixels, str) else " ".join(map(str, pixels))
        out.append(f"{emotion},{text},{usage}")
    return "\n".join(out) + "\n"


def good_pixels(seed: int = 0) -> list[int]:
    return np.random.default_rng(seed).integers(0, 256, 2304).tolist()


def cells(row: str) -> list[str]:
    """The stripped cells of one Markdown table row (tabulate pads them to align the columns)."""
    return [c.strip() for c in row.strip().strip("|").split("|")]
