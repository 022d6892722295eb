"""How fercomp installs: the wheel ships the course templates, and an editable install warns about nothing."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_wheel_ships_course_files_and_editable_install_is_quiet(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "fercomp", project / "fercomp", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("baselines", "submissions", "tests"):  # the folders beside the package that discovery must leave out
        (project / folder).mkdir()
    out = tmp_path / "dist"

    def backend(hook: str) -> subprocess.CompletedProcess:
        """One PEP 517 hook in a fresh process, as pip runs it (two hooks in one process share state)."""
        code = f"import sys; from setuptools import build_meta as b; print('BUILT', b.{hook}(sys.argv[1]))"
        done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=project, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    editable = backend("build_editable")
    said = editable.stdout + editable.stderr
    # setuptools' import finder, and its notice ("… folders in your working directory with the same name as your package …")
    assert "meta path finder" not in said and "InformationOnly" not in said, said[-2000:]
    built = backend("build_wheel")
    shipped = set(zipfile.ZipFile(out / built.stdout.split("BUILT ")[-1].strip()).namelist())
    templates = {p.relative_to(ROOT).as_posix() for p in (ROOT / "fercomp" / "course_files").rglob("*") if p.is_file()}
    assert templates and templates <= shipped
    assert {name.split("/")[0] for name in shipped} == {"fercomp", "fercomp-0.1.0.dist-info"}


def _make_dry(*args: str, venv: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", "demo", f"VENV={venv}", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_make_demo_torch_cpu_installs_pytorchs_cpu_wheels_first(tmp_path):
    """`make demo TORCH=cpu` puts PyTorch's CPU-only wheels in before fercomp (whose `torch` they then satisfy);
    the index cannot be reached from here, so pip is run on the exact line with no index at all: it must
    get as far as finding no torch (exit 1), not refuse the options (exit 2)."""
    if shutil.which("make") is None:
        import pytest

        pytest.skip("no make")
    venv = tmp_path / "v"
    plan = _make_dry("TORCH=cpu", venv=venv)
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    torch_line = next(line for line in lines if "--index-url" in line)
    assert torch_line == f"{venv}/bin/python -m pip install --quiet torch torchvision --index-url https://download.pytorch.org/whl/cpu"
    assert lines.index(torch_line) < next(i for i, line in enumerate(lines) if "-e '.[dev]'" in line)
    argv = [sys.executable, *torch_line.split()[1:], "--dry-run", "--ignore-installed", "--no-index", "--find-links", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "no such option" not in done.stderr, done.stderr  # resolved, found nothing
    misspelt = [a.replace("--index-url", "--index-uri") for a in argv]
    misspelt = subprocess.run(misspelt, capture_output=True, text=True, timeout=120)
    assert misspelt.returncode == 2 and "no such option" in misspelt.stderr  # what a malformed line gives
    default = _make_dry(venv=venv)  # the default install: PyPI's torch, as before
    assert default.returncode == 0 and "--index-url" not in default.stdout and "-e '.[dev]'" in default.stdout
    wrong = _make_dry("TORCH=cuda", venv=venv)
    assert wrong.returncode != 0 and "TORCH=cuda: expected TORCH=cpu" in wrong.stderr
