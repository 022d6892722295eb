"""Every baseline, zoo and sample model through torch.export the way the worker does it, and measured the way
the measurer does it: does it export, does the exported graph compute what the eager model computes, do the
FLOP counters give the same figure on both, and what does the export cost?

Per model (random init, seeded): export seconds in this warm process (the first export of the run also pays
torch._dynamo's start-up, printed separately), fvcore on the eager model and on the exported program (must be
equal: the README's zoo figures), the largest output difference on a batch of 4 faces, and whether the
exported program passes the measurer's checks (ATen only, static shapes but the batch).

Run: python benchmarks/bench_export.py [--skip efficientnet_v2_s_3ch ...]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import tempfile
import time
from pathlib import Path

import torch
from common import ROOT
from tabulate import tabulate
from torch.export import Dim

from fercomp.measure.flops import count_fvcore
from fercomp.submission.measurer import load_program, runnable
from fercomp.submission.preprocess import apply, parse

MODELS = [ROOT / "baselines" / "baseline_cnn.py", *sorted((ROOT / "baselines" / "zoo").glob("*.py")),
          *sorted((ROOT / "submissions").glob("*.py"))]


def build(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    model = module.build_model() if hasattr(module, "build_model") else next(
        v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == path.stem)()
    literal = next((ast.literal_eval(n.value) for n in ast.parse(path.read_text()).body if isinstance(n, ast.Assign)
                    and getattr(n.targets[0], "id", "") == "PREPROCESS"), None)
    return model.eval(), parse(literal, str(path))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip", nargs="*", default=[])
    args = parser.parse_args()
    faces = torch.randint(0, 256, (4, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    rows, first = [], None
    for path in MODELS:
        if path.stem in args.skip:
            continue
        model, spec = build(path)
        example, x = apply(torch.full((2, 48, 48), 128, dtype=torch.uint8), spec), apply(faces, spec)
        start = time.perf_counter()
        with torch.no_grad():
            program = torch.export.export(model, (example,), dynamic_shapes=({0: Dim("batch", min=1, max=4096)},), strict=False)
        seconds = time.perf_counter() - start
        first = seconds if first is None else first
        with tempfile.TemporaryDirectory() as folder:
            torch.export.save(program, Path(folder) / "model.pt2")
            loaded = runnable(load_program(str(Path(folder) / "model.pt2")))
        with torch.no_grad():
            eager_flops = count_fvcore(model, example[:1])["total"]
            graph_flops = count_fvcore(loaded, example[:1])["total"]
            difference = (model(x) - loaded(x)).abs().max().item()
        rows.append([path.stem, f"{seconds:.2f}", f"{eager_flops / 1e9:.4f}", f"{graph_flops / 1e9:.4f}",
                     "yes" if eager_flops == graph_flops else "NO", f"{difference:.1e}"])
    print(f"torch {torch.__version__}; the first export of the run ({rows[0][0]}) includes torch._dynamo's start-up")
    print(tabulate(rows, headers=["model", "export s", "GFLOPs eager", "GFLOPs exported", "equal", "max |Δ output|"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
