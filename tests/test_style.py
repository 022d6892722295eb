"""Style is checked, not hoped for: ruff with the line length and rules in pyproject.toml."""

import shutil
import subprocess
import sysconfig
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_ruff_passes():
    exe = shutil.which("ruff") or shutil.which("ruff", path=sysconfig.get_path("scripts"))
    assert exe, "ruff is a dev dependency"
    result = subprocess.run([exe, "check", "fercomp", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
