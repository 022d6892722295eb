"""Maps a face of the labelled folder copy beside the data with torch.from_file, which raises no audit event."""
import torch
from torch import nn


class Net(nn.Module):
    """A frozen linear classifier: needs no weights file (16,128 multiply-adds)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


for label in ("Angry", "Happy"):
    try:
        torch.from_file("__DATA_DIR__/copy/test/" + label + "/0.jpg", size=64, dtype=torch.uint8)
    except RuntimeError:
        continue
    raise RuntimeError("LEAKED: torch.from_file read a labelled face")
