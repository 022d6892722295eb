"""The competition's baseline: a 7-layer CNN (conv 1→8→32→64, pool, 64→128→128, pool, 128→256→256,
pool, then Linear 9216→2304→1152→576→288→144→7, ReLU after each conv and hidden linear), trained with
Adam lr 1e-3, batch 400, 10 epochs, inputs normalised with mean 0.5, std 0.5.

fvcore counts 0.3275 GFLOPs (one multiply-add = one FLOP) and 25.9 M parameters.
"""

from torch import nn

PREPROCESS = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}


class BaselineCNN(nn.Module):
    def __init__(self, num_classes: int = 7) -> None:
        super().__init__()

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *conv(1, 8), *conv(8, 32), *conv(32, 64), nn.MaxPool2d(2),
            *conv(64, 128), *conv(128, 128), nn.MaxPool2d(2),
            *conv(128, 256), *conv(256, 256), nn.MaxPool2d(2),
        )
        widths = [256 * 6 * 6, 2304, 1152, 576, 288, 144]
        layers: list[nn.Module] = [nn.Flatten()]
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.Linear(cin, cout), nn.ReLU(inplace=True)]
        layers.append(nn.Linear(widths[-1], num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x):
        return self.classifier(self.features(x))


def build_model(**kwargs) -> nn.Module:
    return BaselineCNN(**kwargs)
