"""The FLOP counters' plumbing that the scorer's end-to-end tests do not show."""

import subprocess
import sys


def test_ptflops_counts_without_importing_torchvision():
    # a fresh interpreter: torchvision would already be imported by other tests in this one
    code = (
        "import sys, torch\n"
        "from fercomp.measure.flops import count_ptflops\n"
        "model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 46 * 46, 7))\n"
        "print(count_ptflops(model, torch.zeros(1, 1, 48, 48)), 'torchvision' in sys.modules)\n"
        "import torchvision.ops\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    conv, linear = 46 * 46 * 4 * 9 + 46 * 46 * 4, 4 * 46 * 46 * 7 + 7  # ptflops counts bias adds as MACs
    assert out == [str(conv + linear), "False"]


def test_flop_counter_mode_counts_without_importing_dynamo():
    # torch._dynamo costs 1.8 s of every score when FlopCounterMode pulls it in
    code = (
        "import sys, torch\n"
        "from fercomp.measure.flops import count_flop_counter_mode\n"
        "model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 46 * 46, 7))\n"
        "print(count_flop_counter_mode(model, torch.zeros(1, 1, 48, 48)), 'torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(2 * (46 * 46 * 4 * 9 + 4 * 46 * 46 * 7)), "False"]
