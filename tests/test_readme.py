"""The README's minimal submission, exactly as printed there, trains, passes check and scores."""

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_readme_contract_example_scores(cli, tmp_path, small_csv):
    text = README.read_text()
    example = re.search(r"A minimal submission \(`submissions/team_a.py`\):\n\n```python\n(.*?)```", text, re.S).group(1)
    path = tmp_path / "team_a.py"
    path.write_text(example)
    code, _, err = cli("train", path, "--data", small_csv, "--epochs", "1", "--batch-size", "64", "--report-dir", tmp_path / "rep")
    assert code == 0, err
    code, out, _ = cli("check", path)
    assert code == 0, out
    code, out, err = cli("score", path, "--data", small_csv, "--out", tmp_path / "res", "--latency-queries", "3", "--latency-seconds", "0")
    assert code == 0, err
    assert (tmp_path / "res" / "team_a.PublicTest.json").exists()  # a student's own run: the public split


def test_readme_names_every_command():
    from fercomp.cli import app

    text = README.read_text()
    names = {c.name or c.callback.__name__ for c in app.registered_commands} | {g.name for g in app.registered_groups}
    for name in names:
        assert f"fercomp {name}" in text, name
