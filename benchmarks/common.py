"""What the benchmarks share: the baseline model and the competition notebook's per-row Dataset."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / ".work"


def baseline() -> torch.nn.Module:
    """The competition's baseline CNN, seeded."""
    spec = importlib.util.spec_from_file_location("baseline_cnn", ROOT / "baselines" / "baseline_cnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    return module.build_model()


def notebook_dataset(csv: Path, usage: str, limit: int | None = None) -> torch.utils.data.Dataset:
    """The notebook's Dataset: pandas rows, a string split per item, PIL, ToTensor, Normalize(0.5, 0.5)."""
    from PIL import Image
    from torchvision import transforms

    frame = pd.read_csv(csv)
    frame = frame[frame["Usage"] == usage].reset_index(drop=True)
    if limit is not None:
        frame = frame.head(limit)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

    class Rows(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(frame)

        def __getitem__(self, i):
            pixels = np.array(frame.loc[i, "pixels"].split(), dtype=np.uint8).reshape(48, 48)
            return tf(Image.fromarray(pixels)), int(frame.loc[i, "emotion"])

    return Rows()
