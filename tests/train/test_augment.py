import pytest
import torch

from fercomp.errors import UsageError
from fercomp.training import augment
from fercomp.training.augment_spec import parse
from fercomp.training.recipe import Recipe


def batch():
    x = torch.zeros(8, 1, 48, 48)
    x[:, :, 10:20, 5:15] = 1.0  # a bright square, left of centre
    return x


def test_each_augmentation_keeps_shape_and_range_and_changes_something():
    for name in augment.PIXEL_AUGMENTATIONS:
        gen = torch.Generator().manual_seed(1)
        x = batch() * 0.8 + 0.1
        y = augment.augment_batch(x, parse(name), gen)
        assert y.shape == x.shape, name
        assert float(y.min()) >= -1e-6 and float(y.max()) <= 1 + 1e-6, name
        assert not torch.equal(y, x), name


def test_flip_mirrors_whole_images():
    gen = torch.Generator().manual_seed(0)
    x = batch()
    y = augment.augment_batch(x, parse("flip"), gen)
    for a, b in zip(x, y):
        assert torch.equal(b, a) or torch.equal(b, a.flip(-1))


def test_crop_is_a_whole_pixel_shift():
    gen = torch.Generator().manual_seed(3)
    y = augment.augment_batch(batch(), parse("crop:padding=4"), gen)
    assert torch.all((y == 0) | (y == 1))  # no interpolation
    assert (y.sum(dim=(1, 2, 3)) == 100).all()  # the square moved, it did not leave the frame


def test_same_seed_same_augmentation():
    x = batch()
    augs = Recipe(augment=("flip", "rotate", "erasing")).augment
    a = augment.apply(x, augs, torch.Generator().manual_seed(5))
    b = augment.apply(x, augs, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_parameters_parse_default_and_round_trip():
    crop = parse("crop:padding=2,mode=reflect")
    assert crop.kwargs() == {"padding": 2, "mode": "reflect", "fill": 0.0}
    assert parse({"name": "crop", "padding": 2, "mode": "reflect"}) == crop
    affine = parse("affine:degrees=15,translate=[0.1,0.1]")
    assert affine.kwargs()["degrees"] == (-15.0, 15.0) and affine.kwargs()["scale"] == (1.0, 1.0)
    for aug in (crop, affine, parse("erasing"), parse("brightness:brightness=0.2")):
        assert parse(aug.spec()) == aug, aug.spec()
    assert Recipe(augment=("crop:padding=2",)).to_dict()["augment"] == [{"name": "crop", "padding": 2, "mode": "constant", "fill": 0.0}]


def test_naming_an_augmentation_again_replaces_its_parameters_in_place():
    recipe = Recipe(augment=("flip", "crop")).with_changes(augment=("crop:padding=2", "autocontrast"))
    assert [a.name for a in recipe.augment] == ["flip", "crop", "autocontrast"]
    assert recipe.augmentation("crop").kwargs()["padding"] == 2


@pytest.mark.parametrize("spec,message", [
    ("crop:paddin=2", "--augment crop: unknown parameter 'paddin'; crop takes padding, mode, fill"),
    ("crop:padding=2,mode=wrap", "--augment crop: mode must be one of constant, edge, reflect, symmetric"),
    ("autocontrast:p=1.5", "--augment autocontrast: p must be a probability 0–1"),
    ("blur", "--augment blur: unknown augmentation; expected any of flip, crop,"),
    ("crop:2", "--augment crop:2: '2' must be KEY=VALUE"),
    ("affine:scale=[1.2,0.8]", "--augment affine: scale must be [low, high] with low ≤ high"),
])
def test_bad_parameters_are_one_line_errors(spec, message):
    with pytest.raises(UsageError) as err:
        parse(spec)
    assert err.value.message.startswith(message) and "\n" not in err.value.message
