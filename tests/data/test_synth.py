import numpy as np
import torch
from torch import nn

from fercomp.data.synth import SynthSpec, class_frequencies, generate


def test_same_seed_same_bytes_other_seed_other_bytes():
    a = generate(SynthSpec(n_train=50, n_public=10, n_private=10, seed=1))
    b = generate(SynthSpec(n_train=50, n_public=10, n_private=10, seed=1))
    c = generate(SynthSpec(n_train=50, n_public=10, n_private=10, seed=2))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_class_frequencies_are_like_fer2013():
    _, labels, split = generate(SynthSpec(n_train=6000, n_public=0, n_private=0, seed=3))
    freq = np.bincount(labels, minlength=7) / labels.size
    assert freq.argmax() == 3  # Happy
    assert 0.008 < freq[1] < 0.025  # Disgust about 1.5 %
    np.testing.assert_allclose(freq, class_frequencies(), atol=0.02)
    assert (split == 0).all()


def test_learnable_but_not_trivial():
    """A small CNN trained for a few seconds beats the majority class by a wide margin, but not perfectly."""
    torch.manual_seed(0)
    images, labels, split = generate(SynthSpec(n_train=1500, n_public=0, n_private=400, seed=11))
    x = (torch.from_numpy(images).float().unsqueeze(1) / 255 - 0.5) / 0.5
    y = torch.from_numpy(labels)
    train, test = torch.from_numpy(split == 0), torch.from_numpy(split == 2)
    block = lambda i, o: [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]  # noqa: E731
    model = nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 36, 7))
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    xt, yt = x[train], y[train]
    for _ in range(7):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x[test]).argmax(1) == y[test]).float().mean().item()
    majority = np.bincount(labels[split == 2]).max() / (split == 2).sum()
    assert acc > majority + 0.2, (acc, majority)
    assert acc < 0.98, acc
