"""What the unit signatures cost the measurer: their time against the accuracy pass, and their size in the record.

For the baseline (baselines/baseline_cnn.py) and torchvision's resnet18 (7 classes, 3 channels at 48×48), each
exported as the worker exports it: seconds for the signatures on 32 probe faces (one thread, on the CPU, as the
measurer takes them), seconds for the accuracy pass over a held-out split's 3,589 faces in batches of 128 on
this process's threads (timed on the first 512 and scaled: the pass is linear in the faces), their ratio, and the
signatures' bytes in the record (base64 of zlib) with what was cut.

Run: python benchmarks/bench_signatures.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import torch
from tabulate import tabulate

from fercomp.measure.activations import PROBE_IMAGES, encode, unit_signatures

HELD_OUT, BATCH, TIMED = 3589, 128, 512
ROOT = Path(__file__).resolve().parents[1]


def baseline() -> tuple[torch.nn.Module, int]:
    spec = importlib.util.spec_from_file_location("baseline_cnn", ROOT / "baselines" / "baseline_cnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_model().eval(), 1


def resnet18() -> tuple[torch.nn.Module, int]:
    import torchvision

    return torchvision.models.resnet18(num_classes=7).eval(), 3


def row(name: str, model: torch.nn.Module, channels: int, rounds: int) -> list:
    x = torch.rand(TIMED, channels, 48, 48, generator=torch.Generator().manual_seed(0))
    program = torch.export.export(model, (x[:2],), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},))
    graph = program.module()
    signature_s, forward_s = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        described, raw = unit_signatures(torch, graph, x[:PROBE_IMAGES])
        signature_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        with torch.inference_mode():
            for batch in x.split(BATCH):
                graph(batch)
        forward_s.append((time.perf_counter() - start) * HELD_OUT / TIMED)
    kept = sum(layer["units"] for layer in described["layers"])
    return [name, f"{min(signature_s):.2f}", f"{min(forward_s):.2f}", f"{min(signature_s) / min(forward_s):.1%}",
            f"{len(encode(raw)) / 1e3:.0f} KB", f"{len(described['layers'])} layers, {kept:,} units",
            f"{described['layers_cut']} layers, {described['units_cut']:,} units"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"Unit signatures on {PROBE_IMAGES} faces (1 thread) against the accuracy pass over {HELD_OUT:,} faces "
          f"({torch.get_num_threads()} threads), best of {args.rounds}:")
    rows = [row(name, *make(), args.rounds) for name, make in (("baseline_cnn", baseline), ("resnet18", resnet18))]
    print(tabulate(rows, headers=["model", "signatures s", "accuracy pass s", "ratio", "in the record", "kept", "cut"]))


if __name__ == "__main__":
    main()
