"""A cohort for the audit: 16 honest teams trained differently, and every cheat the audit is meant to find.

Honest teams start from the course's starter code (`STARTER`, the cohort's baseline) and change its widths,
as students do; each trains with its own seed, epochs and learning rate. The cheats:
- memo_heldout: a lookup of every held-out face (a random 2304→32 projection, nearest key as addmm + softmax);
- memo_both: the same lookup over both public test splits (PublicTest and PrivateTest);
- memo_all: every image of the public data set (Training too), which only the private supplement exposes;
- copy_a / copy_b: byte-identical weights (copy_b's file is copy_a's with its names changed);
- tuned: another team's (honest_03) weights, fine-tuned for one more epoch;
- twin_a / twin_b: the same .py (not the starter), trained apart with different seeds;
- example_a / example_b (honest): the course's example file (`EXAMPLE`, a starter file) unchanged, trained apart;
- buffer_copy: honest_05's weights fine-tuned, every tensor a buffer (no parameter for the sketch to see);
- permuted: honest_07's hidden units permuted, then fine-tuned one epoch at a high rate, in code of its own;
- robust_all: a lookup of 15 % of every public split keyed on a coarse face (blurred, 12×12, mirror-symmetric,
  at five offsets) beside a small CNN: it survives the mirror, shift and JPEG perturbations.
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


EXAMPLE = '''"""The course's example hand-in: a plain CNN, for teams to start from."""
from torch import nn

PREPROCESS = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}


class ExampleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(3), nn.Flatten())
        self.head = nn.Linear(16 * 9, 7)

    def forward(self, x):
        return self.head(self.body(x))
'''

BUFFERED = '''"""Our network, written out by hand: every tensor a buffer."""
import torch
from torch import nn
from torch.nn import functional as F

PREPROCESS = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}
SHAPES = SHAPES_HERE


class Handmade(nn.Module):
    def __init__(self):
        super().__init__()
        for name, shape in SHAPES:
            self.register_buffer(name, torch.zeros(shape))

    def forward(self, x):
        x = F.avg_pool2d(x, 2)
        for i in (1, 5, 9):
            x = F.conv2d(x, getattr(self, f"c{i}_w"), getattr(self, f"c{i}_b"), padding=1)
            j = i + 1
            x = F.relu(F.batch_norm(x, getattr(self, f"b{j}_m"), getattr(self, f"b{j}_v"), getattr(self, f"b{j}_w"),
                                    getattr(self, f"b{j}_b"), False, 0.0, 1e-5))
            x = F.max_pool2d(x, 2) if i < 9 else F.adaptive_avg_pool2d(x, 3)
        return F.linear(x.flatten(1), self.h_w, self.h_b)
'''


REWRITTEN = '''"""Three convolutions written out one by one."""
import torch.nn as nn
import torch.nn.functional as F

PREPROCESS = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}


class Mine(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(1, A, 3, padding=1), nn.BatchNorm2d(A)
        self.conv2, self.norm2 = nn.Conv2d(A, B, 3, padding=1), nn.BatchNorm2d(B)
        self.conv3, self.norm3 = nn.Conv2d(B, C, 3, padding=1), nn.BatchNorm2d(C)
        self.out = nn.Linear(C * 9, 7)

    def forward(self, image):
        h = F.avg_pool2d(image, 2)
        h = F.max_pool2d(F.relu(self.norm1(self.conv1(h))), 2)
        h = F.max_pool2d(F.relu(self.norm2(self.conv2(h))), 2)
        h = F.adaptive_avg_pool2d(F.relu(self.norm3(self.conv3(h))), 3)
        return self.out(h.flatten(1))
'''


def rewritten(widths: tuple[int, int, int], state: dict) -> tuple[str, dict]:
    """A starter-shaped model's state under REWRITTEN's names (its own code, the same function)."""
    names = {"features.1": "conv1", "features.2": "norm1", "features.5": "conv2", "features.6": "norm2",
             "features.9": "conv3", "features.10": "norm3", "head": "out"}
    source = REWRITTEN.replace("A,", f"{widths[0]},").replace("(A)", f"({widths[0]})").replace("B,", f"{widths[1]},")
    source = source.replace("(B)", f"({widths[1]})").replace("C,", f"{widths[2]},").replace("(C)", f"({widths[2]})")
    source = source.replace("C * 9", f"{widths[2]} * 9")
    return source, {f"{names[k.rsplit('.', 1)[0]]}.{k.rsplit('.', 1)[1]}": v for k, v in state.items()}


def buffered(state: dict) -> tuple[str, dict]:
    """A starter-shaped model's state as the buffers of BUFFERED (no parameter at all)."""
    names = {"weight": "w", "bias": "b", "running_mean": "m", "running_var": "v"}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[-1] not in names:
            continue
        prefix = "h" if parts[0] == "head" else ("c" if value.dim() == 4 or parts[1] in ("1", "5", "9") else "b") + parts[1]
        out[f"{prefix}_{names[parts[-1]]}"] = value.float()
    shapes = [(name, list(v.shape)) for name, v in out.items()]
    return BUFFERED.replace("SHAPES_HERE", repr(shapes)), out


def permuted(source: str, state: dict, seed: int) -> dict:
    """A starter-shaped model's state with the hidden units of every layer permuted: the same function."""
    g = torch.Generator().manual_seed(seed)
    state = {k: v.clone() for k, v in state.items()}
    previous = None
    for conv, bn in ((1, 2), (5, 6), (9, 10)):
        w = state[f"features.{conv}.weight"]
        if previous is not None:
            w = w[:, previous]
        order = torch.randperm(w.shape[0], generator=g)
        state[f"features.{conv}.weight"], state[f"features.{conv}.bias"] = w[order], state[f"features.{conv}.bias"][order]
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[f"features.{bn}.{name}"] = state[f"features.{bn}.{name}"][order]
        previous = order
    head = state["head.weight"]
    state["head.weight"] = head.view(head.shape[0], -1, 9)[:, previous].reshape(head.shape[0], -1)
    return state


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
    # Two honest teams hand in the course's example unchanged, each training its own weights.
    write(folder.parent / "course", "example", EXAMPLE, {})
    for name, seed in (("example_a", 31), ("example_b", 32)):
        write(folder, name, EXAMPLE, train(build(EXAMPLE), tx, ty, seed=seed, epochs=4, lr=3e-3).state_dict())
    _copies(folder, tx, ty, states)
    _robust(folder, images, labels, tx, ty)
    return base


def _copies(folder: Path, tx: np.ndarray, ty: np.ndarray, states: dict) -> None:
    """buffer_copy: honest_05 fine-tuned, every tensor kept as a buffer; permuted: honest_07's hidden units
    permuted, then fine-tuned one epoch at lr 3e-3."""
    tuned = build(honest_source(5))
    tuned.load_state_dict(states[5])
    write(folder, "buffer_copy", *buffered(train(tuned, tx, ty, seed=78, epochs=1, lr=3e-4).state_dict()))
    moved = build(honest_source(7))
    moved.load_state_dict(permuted(honest_source(7), states[7], seed=79))
    # lr 3e-3: one epoch moves these small layers' weights about as far as their own size, so sorting units by their
    # weights' sums no longer lines them up (weights_permuted misses it); what the units compute stays
    write(folder, "permuted", *rewritten((5, 13, 17), train(moved, tx, ty, seed=80, epochs=1, lr=3e-3).state_dict()))


def _robust(folder: Path, images: np.ndarray, labels: np.ndarray, tx: np.ndarray, ty: np.ndarray) -> None:
    """robust_all: a small CNN plus a coarse-key lookup of 15 % of every public split (Training and both tests),
    too few for the supplement's accuracy gap to name."""
    net = train(build(ROBUST.split("class RobustLookup")[0]), tx, ty, seed=5, epochs=4, lr=3e-3)
    memorised = np.random.default_rng(5).random(len(labels)) < 0.15
    write(folder, "robust_all", *robust_lookup(net, images[memorised], labels[memorised]))
