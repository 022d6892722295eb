import shutil

import numpy as np
import pytest
from PIL import Image

from fercomp.data.labels import CLASS_NAMES
from fercomp.data.source import load_data
from fercomp.errors import DataError


def _index(sample_id: str) -> int:
    """The synthetic writer names files <Split>_<row>.png."""
    return int(sample_id.rsplit("_", 1)[1].split(".")[0])


def test_folder_agrees_with_csv_label_for_label(small_folder, small_csv):
    folder, csv = load_data(small_folder), load_data(small_csv)
    assert folder.split_names == csv.split_names == ("Training", "PublicTest", "PrivateTest")
    rows = np.array([_index(i) for i in folder.ids])
    np.testing.assert_array_equal(folder.labels, csv.labels[rows])
    np.testing.assert_array_equal(folder.split, csv.split[rows])
    np.testing.assert_array_equal(folder.images, csv.images[rows])
    assert folder.held_out == "PrivateTest"


def test_labels_follow_canonical_order_not_alphabetical_folders(small_folder):
    data = load_data(small_folder)
    for sample_id, label in zip(data.ids, data.labels):
        assert sample_id.split("/")[1] == CLASS_NAMES[label].lower()
    # Alphabetical order would make 'angry'=0, 'disgust'=1, 'fear'=2, 'happy'=3, 'neutral'=4 …
    neutral = [label for i, label in zip(data.ids, data.labels) if "/neutral/" in i]
    assert set(neutral) == {6}


def _tree(root, files):
    for rel, size in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full(size, 128, np.uint8)).save(path)
    return root


def test_plain_train_test_folders_case_insensitive_and_held_out_choice(tmp_path):
    root = _tree(tmp_path / "fer", [("Train/HAPPY/a.jpg", (48, 48)), ("Train/Sad/b.png", (48, 48)), ("test/neutral/c.jpg", (48, 48))])
    data = load_data(root)
    assert data.split_names == ("train", "test") and data.held_out == "test"
    assert sorted(data.labels.tolist()) == [3, 4, 6]
    assert load_data(root, held_out="train").held_out == "train"
    with pytest.raises(DataError, match="cannot hold out 'PrivateTest'"):
        load_data(root, held_out="PrivateTest")


@pytest.mark.parametrize(
    "files,message",
    [
        ([("train/happy/a.png", (48, 48)), ("train/joy/b.png", (48, 48))], "unknown class folder 'joy'"),
        ([("train/happy/a.png", (64, 48))], r"a.png: image is 48×64, expected 48×48"),
        ([("misc/happy/a.png", (48, 48))], "no 'train' or 'test' folder"),
    ],
)
def test_bad_trees(tmp_path, files, message):
    with pytest.raises(DataError, match=message):
        load_data(_tree(tmp_path / "fer", files))


def test_corrupt_image_is_named(tmp_path):
    root = _tree(tmp_path / "fer", [("train/happy/a.png", (48, 48))])
    (root / "train/happy/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataError, match=r"broken.jpg: not a readable image"):
        load_data(root)


def test_changed_tree_is_not_served_stale(tmp_path, small_folder):
    root = tmp_path / "copy"
    shutil.copytree(small_folder, root)
    before = load_data(root)
    victim = next((root / "train" / "happy").iterdir())
    victim.rename(root / "train" / "sad" / victim.name)
    after = load_data(root)
    assert (after.labels == 4).sum() == (before.labels == 4).sum() + 1
