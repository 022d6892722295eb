"""A small three-block CNN: conv 1→16→32→64 (3×3, each followed by ReLU and 2×2 max-pool), then one
linear layer 2304→7. Optional batch normalisation and dropout come in through build_model(**kwargs),
which is how `fercomp ablate` switches them on and off.

About 5.7 MFLOPs (fvcore) and 39 k parameters: roughly 1/57 of the baseline's compute.
"""

from torch import nn

PREPROCESS = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}


def build_model(batchnorm: bool = False, dropout: float = 0.0) -> nn.Module:
    def block(cin: int, cout: int) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1)]
        if batchnorm:
            layers.append(nn.BatchNorm2d(cout))
        return layers + [nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    return nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64), nn.Flatten(), nn.Dropout(dropout), nn.Linear(64 * 6 * 6, 7))
