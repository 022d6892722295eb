import os
import shutil
import warnings

import numpy as np
import pytest

from fercomp.data import cache, source
from fercomp.data.source import load_data


def _entries():
    return sorted(p for p in os.listdir(os.environ["FERCOMP_CACHE_DIR"]))


def test_second_load_is_served_from_the_cache(small_csv, monkeypatch):
    first = load_data(small_csv)
    assert len(_entries()) == 1 and _entries()[0].endswith(".npz")
    monkeypatch.setattr(source, "_parse", lambda *a: pytest.fail("parsed again despite a fresh cache"))
    second = load_data(small_csv)
    np.testing.assert_array_equal(first.images, second.images)
    assert first.source_sha256 == second.source_sha256


def test_changed_file_is_reparsed(small_csv, tmp_path):
    path = tmp_path / "fer.csv"
    shutil.copy(small_csv, path)
    before = load_data(path)
    text = path.read_text().splitlines()
    text[1] = "6" + text[1][1:]
    path.write_text("\n".join(text) + "\n")
    after = load_data(path)
    assert after.labels[0] == 6 and after.source_sha256 != before.source_sha256


def test_truncated_or_old_cache_entry_is_rebuilt_with_a_warning(small_csv):
    load_data(small_csv)
    entry = cache.cache_dir() / _entries()[0]
    entry.write_bytes(entry.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="ignoring unusable cache entry"):
        data = load_data(small_csv)
    assert len(data) == 900
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_data(small_csv)  # the rebuilt entry is good again
    with np.load(entry) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["format"] = np.array(0)
    with open(entry, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.warns(UserWarning, match="cache format 0"):
        load_data(small_csv)


def test_no_temporary_files_are_left(small_csv):
    load_data(small_csv)
    assert all(not name.endswith(".tmp") for name in _entries())
