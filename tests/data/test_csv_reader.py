import os

import numpy as np
import pytest

from fercomp.data.source import load_data
from fercomp.errors import DataError
from tests.conftest import csv_text, good_pixels


def test_round_trip_matches_generated_arrays(small_csv, small_arrays):
    images, labels, split = small_arrays
    data = load_data(small_csv)
    assert data.images.dtype == np.uint8 and data.images.shape == (900, 48, 48)
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.labels, labels)
    np.testing.assert_array_equal(data.split, split)
    assert data.split_names == ("Training", "PublicTest", "PrivateTest")
    assert data.held_out == "PrivateTest" and data.validation == "PublicTest"
    assert data.ids[0] == "row:0" and data.ids[-1] == "row:899"


def test_select_split_keeps_ids_aligned(small_csv, small_arrays):
    _, labels, split = small_arrays
    held = load_data(small_csv).select("privatetest")
    rows = np.array([int(i.split(":")[1]) for i in held.ids])
    assert len(held) == 150 and (split[rows] == 2).all()
    np.testing.assert_array_equal(held.labels, labels[rows])


def test_without_usage_is_whole_set_and_refuses_splits(tmp_path):
    path = tmp_path / "nousage.csv"
    path.write_text("emotion,pixels\n" + "\n".join(f"{i % 7},{' '.join(map(str, good_pixels(i)))}" for i in range(5)) + "\n")
    data = load_data(path)
    assert data.split_names == ("All",) and len(data) == 5
    with pytest.raises(DataError, match="has no Usage column"):
        data.select("PrivateTest")
    assert len(data.select("All")) == 5


def test_extra_columns_crlf_and_no_final_newline(tmp_path):
    px = good_pixels(1)
    text = "id,emotion,Usage,pixels,note\r\n" + "\r\n".join(
        f"{i},{i % 7},Training,{' '.join(map(str, px))},x" for i in range(3)
    )
    path = tmp_path / "extra.csv"
    path.write_text(text)
    data = load_data(path)
    assert data.labels.tolist() == [0, 1, 2]
    assert data.images[2].ravel().tolist() == px


def test_quoted_fields_with_commas_use_the_general_parser(tmp_path):
    px = " ".join(map(str, good_pixels(2)))
    path = tmp_path / "quoted.csv"
    path.write_text(f'emotion,pixels,Usage,comment\n3,"{px}",PublicTest,"hello, world"\n')
    data = load_data(path)
    assert data.labels.tolist() == [3] and data.split_names[data.split[0]] == "PublicTest"
    assert data.images[0].ravel().tolist() == good_pixels(2)


BAD_ROWS = [
    ("wrong pixel count", [(0, good_pixels()[:-1], "Training")], r"line 2 \(row 0\): has 2303 pixels, expected 2304"),
    ("non-integer pixel", [(0, good_pixels(), "Training"), (1, "12 abc " + "1 " * 2302, "Training")],
     r"line 3 \(row 1\): pixel 'abc' is not an integer"),
    ("negative pixel", [(0, "-3 " + "1 " * 2303, "Training")], r"line 2 \(row 0\): pixel '-3' is not an integer"),
    ("decimal pixel", [(0, "1.5 " + "1 " * 2303, "Training")], r"pixel '1.5' is not an integer"),
    ("out of range pixel", [(0, "256 " + "1 " * 2303, "Training")], r"line 2 \(row 0\): pixel value 256 is outside 0–255"),
    ("label 7", [(0, good_pixels(), "Training"), (7, good_pixels(), "Training")], r"line 3 \(row 1\): emotion '7' is not a label 0–6"),
    ("label -1", [(-1, good_pixels(), "Training")], r"emotion '-1' is not a label 0–6"),
    ("unknown usage", [(0, good_pixels(), "Validation")], r"line 2 \(row 0\): Usage 'Validation' is not one of"),
]


@pytest.mark.parametrize("case,rows,message", BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_bad_rows_name_the_file_and_line_and_write_no_cache(tmp_path, case, rows, message):
    path = tmp_path / "bad.csv"
    path.write_text(csv_text(rows))
    with pytest.raises(DataError, match=message) as info:
        load_data(path)
    assert str(path) in info.value.message and "\n" not in info.value.message
    assert not list(os.scandir(os.environ["FERCOMP_CACHE_DIR"]))


def test_missing_file_and_missing_column(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_data(tmp_path / "absent.csv")
    path = tmp_path / "nocol.csv"
    path.write_text("emotion,Usage\n0,Training\n")
    with pytest.raises(DataError, match="missing column 'pixels'"):
        load_data(path)


def test_truncated_file_is_named_as_truncated(small_csv, tmp_path):
    data = small_csv.read_bytes()
    path = tmp_path / "truncated.csv"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"(looks truncated|pixels, expected 2304)"):
        load_data(path)


def test_empty_split_and_header_only(tmp_path):
    path = tmp_path / "train_only.csv"
    path.write_text(csv_text([(0, good_pixels(), "Training")]))
    data = load_data(path)
    with pytest.raises(DataError, match="split 'PrivateTest' is empty"):
        data.select("PrivateTest")
    empty = tmp_path / "empty.csv"
    empty.write_text("emotion,pixels,Usage\n")
    with pytest.raises(DataError, match="header but no data rows"):
        load_data(empty)
