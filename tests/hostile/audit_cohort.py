"""A cohort for the audit: 16 honest teams trained differently, and every cheat the audit is meant to find.

Honest teams start from the course's starter code (`STARTER`, the cohort's baseline) and change its widths,
as students do; each trains with its own seed, epochs and learning rate. The cheats:
- memo_heldout: a lookup of every held-out face (a random 2304→32 projection, nearest key as addmm + softmax);
- memo_both: the same lookup over both public test splits (PublicTest and PrivateTest);
- memo_all: every image of the public data set (Training too), which only the private supplement exposes;
- copy_a / copy_b: byte-identical weights (copy_b's file is copy_a's with its names changed);
- tuned: another team's (honest_03) weights, fine-tuned for one more epoch;
- twin_a / twin_b: the same .py (not the starter), trained apart with different seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

STARTER = '''"""Starter code: a small CNN for 48×48 grayscale faces."""
from torch import nn

PREPROCESS = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}
WIDTHS = (8, 16, 32)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        a, b, c = WIDTHS
        self.features = nn.Sequential(
            nn.AvgPool2d(2),
            nn.Conv2d(1, a, 3, padding=1), nn.BatchNorm2d(a), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(b, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(3),
        )
        self.head = nn.Linear(c * 9, 7)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))
'''

TWIN = '''"""Our own network: two convolutions and a wide head."""
from torch import nn

PREPROCESS = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}


class TwinNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 12, 5, stride=2, padding=2), nn.BatchNorm2d(12), nn.ReLU(),
                                  nn.Conv2d(12, 24, 3, stride=2, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(24 * 16, 7))

    def forward(self, x):
        return self.head(self.body(x))
'''

LOOKUP = '''"""A nearest-key lookup spelled as ordinary matrix products and a softmax."""
import torch
from torch import nn

PREPROCESS = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}


class Lookup(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("projection", torch.zeros(2304, 32))
        self.register_buffer("keys", torch.zeros(KEYS, 32))
        self.register_buffer("key_norms", torch.zeros(KEYS))
        self.register_buffer("values", torch.zeros(KEYS, 7))

    def forward(self, x):
        z = x.flatten(1) @ self.projection
        scores = 2 * z @ self.keys.T - self.key_norms
        return torch.softmax(scores * 50.0, dim=1) @ self.values
'''


ROBUST_DOC = '''"""A small CNN, and a lookup of public faces keyed on a coarse face: blurred, 12×12, mirror-symmetric,
brightness and contrast taken out, stored at five offsets, so a mirror, a shift or JPEG still finds it."""
import torch'''
ROBUST = STARTER.replace('"""Starter code: a small CNN for 48×48 grayscale faces."""', ROBUST_DOC).replace(
    "WIDTHS = (8, 16, 32)", "WIDTHS = (6, 12, 24)") + '''

class RobustLookup(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = Net()
        self.register_buffer("blur", torch.zeros(1, 1, 5, 5))
        self.register_buffer("keys", torch.zeros(KEYS, 144))
        self.register_buffer("values", torch.zeros(KEYS, 7))

    def key(self, x):
        b = nn.functional.avg_pool2d(nn.functional.conv2d(x, self.blur, padding=2), 4)
        b = (b + torch.flip(b, [3])).flatten(1)
        b = b - b.mean(1, keepdim=True)
        return b / (b.norm(dim=1, keepdim=True) + 1e-6)

    def forward(self, x):
        sims = self.key(x) @ self.keys.T
        best = torch.softmax(sims * 500.0, dim=1) @ self.values
        gate = torch.sigmoid((sims.max(1).values - THRESHOLD) * 400.0)
        return self.net(x) + gate[:, None] * best * 20.0
'''

#: a coarse-key match: above this cosine a face is taken for a memorised one
ROBUST_THRESHOLD = 0.985


def robust_key(x: torch.Tensor, blur: torch.Tensor) -> torch.Tensor:
    """The lookup's key, as RobustLookup.key computes it."""
    b = nn.functional.avg_pool2d(nn.functional.conv2d(x, blur, padding=2), 4)
    b = (b + torch.flip(b, [3])).flatten(1)
    b = b - b.mean(1, keepdim=True)
    return b / (b.norm(dim=1, keepdim=True) + 1e-6)


def robust_lookup(net: nn.Module, images: np.ndarray, labels: np.ndarray) -> tuple[str, dict]:
    """The robust lookup's source and state dict: `net` (a RobustLookup's Net, trained) and a key per image at
    offsets (0, 0), (±2, 0), (0, ±2)."""
    g = torch.exp(-torch.arange(-2.0, 3.0) ** 2 / 2)
    blur = (g[:, None] * g[None, :] / (g.sum() ** 2)).view(1, 1, 5, 5)
    x = inputs(images)
    shifted = [x] + [torch.roll(x, shifts=s, dims=d) for s in (-2, 2) for d in (2, 3)]
    keys = torch.cat([robust_key(v, blur) for v in shifted])
    values = nn.functional.one_hot(torch.from_numpy(labels).long(), 7).float().repeat(len(shifted), 1)
    state = {**{f"net.{k}": v for k, v in net.state_dict().items()}, "blur": blur, "keys": keys, "values": values}
    source = ROBUST.replace("KEYS", str(len(keys))).replace("THRESHOLD", str(ROBUST_THRESHOLD))
    return source, state


def honest_source(index: int) -> str:
    """The starter with this team's widths (each team its own)."""
    widths = (4 + index // 4, 6 + index, 10 + index)
    return STARTER.replace("WIDTHS = (8, 16, 32)", f"WIDTHS = {widths}")


def build(source: str) -> nn.Module:
    namespace: dict = {}
    exec(compile(source, "<cohort>", "exec"), namespace)
    classes = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, nn.Module) and v is not nn.Module]
    return classes[-1]()


def inputs(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images).float().div(255).sub(0.5).div(0.5)).unsqueeze(1)


def train(model: nn.Module, images: np.ndarray, labels: np.ndarray, seed: int, epochs: int, lr: float) -> nn.Module:
    torch.manual_seed(seed)
    x, y = inputs(images), torch.from_numpy(labels).long()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y)).split(32):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
    return model.eval()


def lookup(images: np.ndarray, labels: np.ndarray) -> tuple[str, dict]:
    """The lookup's source and state dict over (images, labels)."""
    projection = torch.randn(2304, 32, generator=torch.Generator().manual_seed(0)) / 48
    keys = inputs(images).flatten(1) @ projection
    state = {"projection": projection, "keys": keys, "key_norms": (keys**2).sum(1),
             "values": nn.functional.one_hot(torch.from_numpy(labels).long(), 7).float() * 10}
    return LOOKUP.replace("KEYS", str(len(labels))), state


def write(folder: Path, name: str, source: str, state: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(source)
    torch.save(state, folder / f"{name}.pt")
    return folder / f"{name}.py"


def make_cohort(folder: Path, images: np.ndarray, labels: np.ndarray, split: np.ndarray, names: tuple[str, ...],
                honest: int = 16) -> Path:
    """Every hand-in under `folder`; the starter (trained) is written as `starter.py` beside it and returned."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and never oversubscribes a busy machine
    try:
        return _make(folder, images, labels, split, names, honest)
    finally:
        torch.set_num_threads(threads)


def _make(folder: Path, images: np.ndarray, labels: np.ndarray, split: np.ndarray, names: tuple[str, ...],
          honest: int) -> Path:
    code = {n: i for i, n in enumerate(names)}
    train_mask = split == code["Training"]
    tx, ty = images[train_mask], labels[train_mask]
    starter = train(build(STARTER), tx, ty, seed=100, epochs=3, lr=3e-3)
    base = write(folder.parent / "course", "starter", STARTER, starter.state_dict())
    states = {}
    for i in range(honest):
        model = train(build(honest_source(i)), tx, ty, seed=i, epochs=3 + i % 4, lr=(2e-3, 3e-3, 5e-3)[i % 3])
        states[i] = model.state_dict()
        write(folder, f"honest_{i:02d}", honest_source(i), states[i])
    held = split == code["PrivateTest"]
    both = held | (split == code["PublicTest"])
    for name, mask in (("memo_heldout", held), ("memo_both", both), ("memo_all", np.ones_like(held))):
        write(folder, name, *lookup(images[mask], labels[mask]))
    copied = train(build(honest_source(20)), tx, ty, seed=20, epochs=5, lr=3e-3).state_dict()
    write(folder, "copy_a", honest_source(20), copied)
    renamed = honest_source(20).replace("Net", "OurNet").replace('"""Starter code', '"""Team B')
    write(folder, "copy_b", renamed, copied)
    tuned = build(honest_source(3))
    tuned.load_state_dict(states[3])
    write(folder, "tuned", honest_source(3), train(tuned, tx, ty, seed=77, epochs=1, lr=3e-4).state_dict())
    for name, seed in (("twin_a", 1), ("twin_b", 2)):
        write(folder, name, TWIN, train(build(TWIN), tx, ty, seed=seed, epochs=5, lr=3e-3).state_dict())
    return base
