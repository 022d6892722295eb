"""The shipped GitHub Actions workflow parses and only calls fercomp commands and options that exist."""

import re
from pathlib import Path

import yaml

from fercomp.cli import app

WORKFLOW = Path(__file__).parents[1] / ".github" / "workflows" / "grade.yml"


def test_workflow_jobs_and_commands():
    flow = yaml.safe_load(WORKFLOW.read_text())
    assert set(flow["jobs"]) == {"check", "score", "leaderboard"}
    assert flow["jobs"]["leaderboard"]["needs"] == "score"
    text = WORKFLOW.read_text()
    commands = {cmd.name or cmd.callback.__name__ for cmd in app.registered_commands}
    used = set(re.findall(r"fercomp (\w+)", text))
    assert used and used <= commands, used - commands
    assert "secrets.FER_DATA_URL" in text  # the held-out data comes from a secret location
