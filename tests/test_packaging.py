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
