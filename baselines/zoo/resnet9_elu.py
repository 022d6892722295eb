"""ResNet9 with ELU, as in the competition reports: conv blocks (3×3 conv, BatchNorm, ELU, optional 2×2
max-pool) 1→128, 128→128+pool, a residual of two 128 blocks, dropout 0.5; 128→256, 256→256+pool, a
residual of two 256 blocks, dropout; 256→512, 512→512+pool, a residual of two 512 blocks, dropout;
MaxPool(6), flatten, Linear(512, 7)."""

from torch import nn


def conv_block(cin: int, cout: int, pool: bool = False) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ELU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class ResNet9(nn.Module):
    def __init__(self, num_classes: int = 7, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1, self.conv2 = conv_block(1, 128), conv_block(128, 128, pool=True)
        self.res1 = nn.Sequential(conv_block(128, 128), conv_block(128, 128))
        self.drop1 = nn.Dropout(dropout)
        self.conv3, self.conv4 = conv_block(128, 256), conv_block(256, 256, pool=True)
        self.res2 = nn.Sequential(conv_block(256, 256), conv_block(256, 256))
        self.drop2 = nn.Dropout(dropout)
        self.conv5, self.conv6 = conv_block(256, 512), conv_block(512, 512, pool=True)
        self.res3 = nn.Sequential(conv_block(512, 512), conv_block(512, 512))
        self.drop3 = nn.Dropout(dropout)
        self.classifier = nn.Sequential(nn.MaxPool2d(6), nn.Flatten(), nn.Linear(512, num_classes))

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        x = self.drop1(self.res1(x) + x)
        x = self.conv4(self.conv3(x))
        x = self.drop2(self.res2(x) + x)
        x = self.conv6(self.conv5(x))
        x = self.drop3(self.res3(x) + x)
        return self.classifier(x)
