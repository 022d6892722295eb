"""Identical images across splits: exact statistics, and one acknowledgeable line per data file."""

import warnings

import numpy as np
import pytest

from fercomp.data import duplicates
from fercomp.data.duplicates import cross_split_notice, duplicate_stats
from fercomp.data.source import load_data
from fercomp.errors import UsageError
from fercomp.config import load_config
from tests.conftest import lines


def reference_stats(images, split, labels):
    """The obvious way: group rows by their bytes in a dict."""
    groups: dict[bytes, list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(image.tobytes(), []).append(i)
    repeated = sum(len(rows) - 1 for rows in groups.values())
    across = sum(len({int(split[i]) for i in rows}) > 1 for rows in groups.values())
    conflicting = sum(len({int(labels[i]) for i in rows}) > 1 for rows in groups.values())
    return repeated, across, conflicting


@pytest.mark.parametrize("seed", [0, 1])
def test_vectorised_statistics_equal_the_reference(seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (3000, 48, 48), dtype=np.uint8)
    copies = rng.choice(3000, 400)  # some images copied once, some several times, some onto their source
    images[rng.choice(3000, 400)] = images[copies]
    split, labels = rng.integers(0, 3, 3000).astype(np.int8), rng.integers(0, 7, 3000)
    expected = reference_stats(images, split, labels)
    assert expected[1] > 50 and expected[2] > 50  # the data exercises every count
    assert duplicate_stats(images, split, labels) == expected


def test_key_collisions_are_split_by_the_bytes(monkeypatch):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 2, (500, 2, 8), dtype=np.uint8)  # few distinct images: many true repeats
    split, labels = rng.integers(0, 3, 500).astype(np.int8), rng.integers(0, 7, 500)
    expected = reference_stats(images, split, labels)
    monkeypatch.setattr(duplicates, "_row_keys", lambda flat: np.zeros(len(flat), np.uint64))  # every key collides
    assert duplicate_stats(images, split, labels) == expected


@pytest.fixture
def shared_csv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(duplicates, "_acknowledged", [])
    row = " ".join(["9"] * 2304)
    path = tmp_path / "dup.csv"
    path.write_text(f"emotion,pixels,Usage\n3,{row},Training\n3,{row},PrivateTest\n0,{' '.join(['1'] * 2304)},Training\n")
    return path


def test_one_line_once_per_file_never_a_python_warning(shared_csv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):  # parsed, then cached twice
            load_data(shared_csv)
    err = lines(capsys.readouterr().err)
    assert err == [f"warning: {shared_csv}: 1 image(s) appear in more than one split, so held-out scores may be "
                   "inflated; `fercomp data info` lists them; to acknowledge, set [competition] known_duplicates = 1 "
                   "in fercomp.toml"]


def test_known_duplicates_acknowledges_the_count(shared_csv, capsys):
    (shared_csv.parent / "fercomp.toml").write_text("[competition]\nknown_duplicates = 1\n")
    load_data(shared_csv)
    assert capsys.readouterr().err == ""


def test_a_different_count_names_both_numbers(shared_csv, capsys):
    (shared_csv.parent / "fercomp.toml").write_text("[competition]\nknown_duplicates = 519\n")
    load_data(shared_csv)
    (line,) = lines(capsys.readouterr().err)
    assert "1 image(s) appear in more than one split" in line and "known_duplicates = 519" in line
    assert line.endswith("set known_duplicates = 1")


def test_known_duplicates_is_validated(tmp_path):
    path = tmp_path / "fercomp.toml"
    for value, words in (('"519"', "must be an integer"), ("-3", "must not be negative")):
        path.write_text(f"[competition]\nknown_duplicates = {value}\n")
        with pytest.raises(UsageError, match=f"known_duplicates = .* {words}"):
            load_config(path)


def test_data_info_shows_it_in_the_table_without_sending_you_to_itself(cli, shared_csv):
    code, out, err = cli("data", "info", shared_csv)
    assert code == 0
    assert "1 image(s) also in another split" in out
    (line,) = lines(err)
    assert "known_duplicates = 1" in line and "data info" not in line
    assert cross_split_notice(shared_csv, 1, 1) is None


def test_a_config_named_by_the_command_acknowledges_too(shared_csv, capsys):
    (shared_csv.parent / "fercomp.toml").write_text("[competition]\nknown_duplicates = 7\n")  # not this one
    duplicates.acknowledge(load_config(_other_config(shared_csv.parent)).competition.known_duplicates)
    load_data(shared_csv)
    assert capsys.readouterr().err == ""


def _other_config(folder):
    path = folder / "course.toml"
    path.write_text("[competition]\nknown_duplicates = 1\n")
    return path


def test_data_info_lists_the_images_in_more_than_one_split(cli, shared_csv):
    """The warning says `fercomp data info` lists them: it does, by sample id, split and label."""
    code, out, _ = cli("data", "info", shared_csv)
    assert code == 0 and "in more than one split, 1: row:0 (Training, Happy) = row:1 (PrivateTest, Happy)" in out
    code, out, _ = cli("data", "info", shared_csv, "--json")
    import json

    assert json.loads(out)["cross_split"] == [[{"id": "row:0", "split": "Training", "label": "Happy"},
                                               {"id": "row:1", "split": "PrivateTest", "label": "Happy"}]]


@pytest.mark.parametrize("seed", [0, 3])
def test_cross_split_groups_equal_the_reference(seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (2000, 4, 4), dtype=np.uint8)
    images[rng.choice(2000, 300)] = images[rng.choice(2000, 300)]
    split = rng.integers(0, 3, 2000).astype(np.int8)
    groups: dict[bytes, list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(image.tobytes(), []).append(i)
    expected = sorted(rows for rows in groups.values() if len({int(split[i]) for i in rows}) > 1)
    found = [list(map(int, rows)) for rows in duplicates.cross_split_groups(images, split)]
    assert found == expected and len(found) == duplicate_stats(images, split, np.zeros(2000, int))[1]
