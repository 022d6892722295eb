"""The Keras-style custom CNN from the reports: conv 32→64, BN, pool, dropout .25; conv 128→256, BN,
pool, dropout .25; conv 512→512, BN, pool, dropout .25; dense 1024, dropout .25, dense 7."""

from torch import nn


def _stage(cin: int, mid: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, mid, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 3, padding=1),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(0.25)]


class KerasCNN(nn.Module):
    def __init__(self, num_classes: int = 7) -> None:
        super().__init__()
        self.features = nn.Sequential(*_stage(1, 32, 64), *_stage(64, 128, 256), *_stage(256, 512, 512))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(512 * 6 * 6, 1024), nn.ReLU(inplace=True),
                                        nn.Dropout(0.25), nn.Linear(1024, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
