"""The published JSON Schemas (docs/schema/) are generated from the dataclasses, stay current, and every
output validates against them: real score records (scored and failed) and the leaderboard JSON."""

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from fercomp import schema
from fercomp.render.text_formats import to_json
from fercomp.scoring import score_submission
from tests.scoring_helpers import FIXTURES, fast_config
from tests.test_golden_tables import leaderboard

PUBLISHED = Path(__file__).parents[1] / "docs" / "schema"


def test_published_schemas_are_current():
    for name, make in schema.SCHEMAS.items():
        assert json.loads((PUBLISHED / name).read_text()) == make(), f"regenerate: python -m fercomp.schema docs/schema ({name})"


@pytest.mark.jail
def test_real_records_validate(tmp_path, small_csv):
    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "rule.py")
    (tmp_path / "broken.py").write_text("def build_model(:\n")
    validator = jsonschema.Draft202012Validator(schema.record_schema())
    for name in ("rule", "broken"):
        record = score_submission(tmp_path / f"{name}.py", fast_config(small_csv, tmp_path / "results"))
        validator.validate(json.loads((tmp_path / "results" / f"{name}.PrivateTest.json").read_text()))
        assert record.status == ("scored" if name == "rule" else "failed")


@pytest.mark.jail
def test_a_malformed_record_fails_the_schema(tmp_path, small_csv):
    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "rule.py")
    score_submission(tmp_path / "rule.py", fast_config(small_csv, tmp_path / "results"))
    raw = json.loads((tmp_path / "results" / "rule.PrivateTest.json").read_text())
    validator = jsonschema.Draft202012Validator(schema.record_schema())
    for broken in ({**raw, "accuracy": 1.5}, {**raw, "data": {"size": 3}}, {**raw, "bonus": 1}, {**raw, "schema": "x"}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(broken)


def test_leaderboard_json_validates():
    board = json.loads(to_json(leaderboard()))
    jsonschema.Draft202012Validator(schema.leaderboard_schema()).validate(board)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema.leaderboard_schema()).validate({**board, "phase": "secret"})
