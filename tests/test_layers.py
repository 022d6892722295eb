"""The layer contracts in pyproject.toml hold (import-linter sees imports inside functions too), and a
planted violation breaks them: the check is real."""

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

ROOT = Path(__file__).parents[1]


def lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports") or shutil.which("lint-imports", path=sysconfig.get_path("scripts"))
    assert exe, "import-linter is a dev dependency (pip install import-linter)"
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([exe, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_layer_contracts_hold():
    result = lint_imports(ROOT, ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    contracts = (ROOT / "pyproject.toml").read_text().count("[[tool.importlinter.contracts]]")
    assert contracts >= 5 and f"{contracts} kept, 0 broken" in result.stdout


def test_a_planted_violation_breaks_them(tmp_path):
    shutil.copytree(ROOT / "fercomp", tmp_path / "fercomp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # a renderer that reaches into scoring from inside a function, where an import-time test cannot see it
    (tmp_path / "fercomp" / "render" / "planted.py").write_text(
        "def rescore(path):\n    from fercomp.scoring import score_submission\n\n    return score_submission\n")
    result = lint_imports(tmp_path, tmp_path)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "fercomp.render is not allowed to import fercomp.scoring" in result.stdout
    assert "fercomp.render.planted -> fercomp.scoring" in result.stdout
