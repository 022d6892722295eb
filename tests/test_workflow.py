"""fercomp's own CI workflow lints clean with actionlint and runs the same command as `.ci/run`."""

import subprocess
from pathlib import Path

import yaml

from tests.test_course import actionlint

ROOT = Path(__file__).parents[1]


def test_own_workflows_lint_clean_and_run_the_test_command():
    flows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert [p.name for p in flows] == ["ci.yml"]
    result = subprocess.run([actionlint(), *map(str, flows)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    steps = yaml.safe_load(flows[0].read_text())["jobs"]["test"]["steps"]
    assert steps[-1]["run"] == ".ci/run" and "make test" in (ROOT / ".ci" / "run").read_text()


def test_actionlint_fails_a_broken_workflow(tmp_path):
    """The lint is real: an unknown action input and a node20 action are both reported."""
    flow = tmp_path / ".github" / "workflows" / "bad.yml"
    flow.parent.mkdir(parents=True)
    flow.write_text("on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n"
                    "      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v6\n        with: { pyton-version: '3.11' }\n")
    result = subprocess.run([actionlint(), str(flow)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "node20" in result.stdout and "pyton-version" in result.stdout
