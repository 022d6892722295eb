"""The cache of exported programs stays bounded: least recently used out first, after every new export, and
`fercomp cache` shows and prunes it."""

import os
from pathlib import Path

import pytest

from fercomp.submission import export_cache
from tests.scoring_helpers import FIXTURES, fast_config


def fill(folder: Path, sizes: dict[str, int]) -> None:
    """Entries written in the order given, each a second older than the next."""
    folder.mkdir(parents=True, exist_ok=True)
    for age, (name, size) in enumerate(reversed(list(sizes.items()))):
        path = folder / f"{name}.pt2"
        path.write_bytes(b"x" * size)
        os.utime(path, (1_000_000 - age, 1_000_000 - age))


def names(folder: Path) -> list[str]:
    return [e.path.stem for e in export_cache.entries(folder)]


def test_prune_takes_the_least_recently_used_first_and_never_the_one_in_use(tmp_path):
    fill(tmp_path, {"a": 400, "b": 300, "c": 200, "d": 100})  # a oldest
    export_cache.mark_used(tmp_path / "a.pt2")  # read just now: the newest
    assert names(tmp_path) == ["b", "c", "d", "a"]
    removed = export_cache.prune(700, tmp_path, keep=tmp_path / "b.pt2")  # 1,000 bytes → 700: b stays, c and d go
    assert [e.path.stem for e in removed] == ["c", "d"] and names(tmp_path) == ["b", "a"]
    assert export_cache.prune(0, tmp_path) == [] and len(names(tmp_path)) == 2  # 0: no bound


def test_the_bound_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("FERCOMP_EXPORT_CACHE_MB", raising=False)
    assert export_cache.limit_bytes() == export_cache.DEFAULT_LIMIT_MB << 20
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_MB", "5")
    assert export_cache.limit_bytes() == 5 << 20
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_MB", "lots")
    from fercomp.errors import UsageError

    with pytest.raises(UsageError, match="FERCOMP_EXPORT_CACHE_MB=lots: a whole number of megabytes"):
        export_cache.limit_bytes()


def test_fercomp_cache_shows_and_prunes(cli, monkeypatch, tmp_path):
    folder = tmp_path / "exported"
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(folder))
    fill(folder, {"old": 3 << 20, "new": 1 << 20})
    code, out, _ = cli("cache")
    assert code == 0 and f"{folder}: 2 exported program(s), 4.0 MB; bound 2048 MB" in out
    code, out, _ = cli("cache", "--prune", "--max-mb", "2")
    assert code == 0 and "removed 1 exported program(s), 3.0 MB" in out and names(folder) == ["new"]
    code, out, _ = cli("cache", "--prune", "--max-mb", "0")
    assert code == 0 and "0 exported program(s), 0.0 MB" in out and names(folder) == []


@pytest.mark.jail
def test_a_new_export_evicts_beyond_the_bound(monkeypatch, tmp_path, small_csv):
    folder = tmp_path / "exported"
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(folder))
    monkeypatch.setattr(export_cache, "limit_bytes", lambda: 1)  # room for the newest program alone
    fill(folder, {"stale": 2048})
    record = score_constant(tmp_path, small_csv)
    assert record.status == "scored" and not record.measured["export_cached"]
    assert names(folder) == [record.measured["export_key"]]  # the stale entry went; the one just written stayed


def score_constant(tmp_path: Path, small_csv: Path, **config):
    from fercomp.scoring import score_submission

    path = tmp_path / "constant.py"
    path.write_text((FIXTURES / "constant_model.py").read_text().replace("WIDTH = 1", "WIDTH = 5"))
    return score_submission(path, fast_config(small_csv, tmp_path / "results", require_weights=False, **config))


def test_figures_are_kept_for_the_same_bytes_and_code_only(tmp_path, monkeypatch):
    program = tmp_path / "k.pt2"
    program.write_bytes(b"program")
    export_cache.keep(program, "sha-a", "weights_sketch", {"data": "x"})
    export_cache.keep(program, "sha-a", "flops", {"req1": {"gflops": 1.0}})
    export_cache.keep(program, "sha-a", "flops", {"req2": {"gflops": 2.0}})  # requests merge
    kept = export_cache.figures(program, "sha-a")
    assert kept["weights_sketch"] == {"data": "x"} and set(kept["flops"]) == {"req1", "req2"}
    assert export_cache.figures(program, "sha-b") == {}  # other bytes under the same key: measured again
    monkeypatch.setattr(export_cache, "measuring_code", lambda: "edited")
    assert export_cache.figures(program, "sha-a") == {}  # other measuring code: measured again
    export_cache.figures_path(program).write_text("{cut short")
    assert export_cache.figures(program, "sha-a") == {}
    export_cache.remove(program)
    assert not program.exists() and not export_cache.figures_path(program).exists()


@pytest.mark.jail
def test_a_rescore_takes_the_kept_figures_and_measures_them_again_when_they_do_not_match(monkeypatch, tmp_path, small_csv):
    """A re-score of the same program takes its sketch and FLOP counts from the kept figures (a marked value kept
    shows in the record), and the same record as a fresh measurement once they no longer match its bytes."""
    import json

    folder = tmp_path / "exported"
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(folder))
    first = score_constant(tmp_path, small_csv)
    assert first.status == "scored" and first.measured["figures_kept"] == []
    program = folder / f"{first.measured['export_key']}.pt2"
    second = score_constant(tmp_path, small_csv)
    assert second.measured["figures_kept"] == ["flops", "weights_sketch"]
    assert (second.flops, second.weights_sketch) == (first.flops, first.weights_sketch)

    kept = json.loads(export_cache.figures_path(program).read_text())
    for counted in kept["flops"].values():
        counted["fvcore_flops"] = 12345
    export_cache.figures_path(program).write_text(json.dumps(kept))
    assert score_constant(tmp_path, small_csv).flops["fvcore_flops"] == 12345  # taken, not measured

    kept["artifact_sha256"] = "0" * 64  # kept for other bytes
    export_cache.figures_path(program).write_text(json.dumps(kept))
    again = score_constant(tmp_path, small_csv)
    assert again.measured["figures_kept"] == [] and (again.flops, again.weights_sketch) == (first.flops, first.weights_sketch)


@pytest.mark.jail
def test_counts_kept_for_other_batch_sizes_are_not_taken(monkeypatch, tmp_path, small_csv):
    """FLOP counts are kept per request: a re-score whose accuracy pass uses other batch sizes counts again and
    does not say its counts were kept."""
    monkeypatch.setenv("FERCOMP_EXPORT_CACHE_DIR", str(tmp_path / "exported"))
    first = score_constant(tmp_path, small_csv)
    other = score_constant(tmp_path, small_csv, batch_size=7)
    assert other.measured["figures_kept"] == ["weights_sketch"]
    assert other.flops["fvcore_flops"] == first.flops["fvcore_flops"]
    assert score_constant(tmp_path, small_csv, batch_size=7).measured["figures_kept"] == ["flops", "weights_sketch"]
