import torch

from fercomp.training import augment


def batch():
    x = torch.zeros(8, 1, 48, 48)
    x[:, :, 10:20, 5:15] = 1.0  # a bright square, left of centre
    return x


def test_each_augmentation_keeps_shape_and_range_and_changes_something():
    for name, fn in augment.PIXEL_AUGMENTATIONS.items():
        gen = torch.Generator().manual_seed(1)
        x = batch() * 0.8 + 0.1
        y = fn(x, gen)
        assert y.shape == x.shape, name
        assert float(y.min()) >= -1e-6 and float(y.max()) <= 1 + 1e-6, name
        assert not torch.equal(y, x), name


def test_flip_mirrors_whole_images():
    gen = torch.Generator().manual_seed(0)
    x = batch()
    y = augment.flip(x, gen)
    for a, b in zip(x, y):
        assert torch.equal(b, a) or torch.equal(b, a.flip(-1))


def test_crop_is_a_whole_pixel_shift():
    gen = torch.Generator().manual_seed(3)
    y = augment.crop(batch(), gen, padding=4)
    assert torch.all((y == 0) | (y == 1))  # no interpolation
    assert (y.sum(dim=(1, 2, 3)) == 100).all()  # the square moved, it did not leave the frame


def test_same_seed_same_augmentation():
    x = batch()
    a = augment.apply(x, ("flip", "rotate", "erasing"), torch.Generator().manual_seed(5))
    b = augment.apply(x, ("flip", "rotate", "erasing"), torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
