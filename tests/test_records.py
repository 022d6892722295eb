"""Score records: a malformed record is one named RecordError, never a traceback or a half-read record."""

import json

import pytest

from fercomp.errors import RecordError
from fercomp.records import SCHEMA, read_record


def good() -> dict:
    return {"schema": SCHEMA, "status": "scored", "submission": {"name": "team_a", "sha256": "ab" * 32},
            "data": {"split": "PrivateTest", "size": 10, "sha256": "cd" * 32}, "environment": {}, "timestamp": "t",
            "isolation": [], "accuracy": 0.5, "confusion_matrix": [], "gflops": 0.1, "efficiency": 500.0, "per_class": []}


def edit(record: dict, path: str, value=KeyError) -> dict:
    *parents, key = path.split(".")
    owner = record
    for p in parents:
        owner = owner[p]
    if value is KeyError:
        del owner[key]
    else:
        owner[key] = value
    return record


@pytest.mark.parametrize("path, value, words", [
    ("data.split", KeyError, "field data.split is missing"),
    ("data", "PrivateTest", "field data is str, not dict"),
    ("submission.name", 7, "field submission.name is int, not str"),
    ("submission.name", "../other", "is not a team name"),
    ("status", "winner", "'winner', not 'scored' or 'failed'"),
    ("accuracy", "0.9", "field accuracy is str in a scored record"),
    ("accuracy", 1.7, "outside 0–1"),
    ("data.size", True, "field data.size is bool"),
    ("timestamp", KeyError, "field timestamp is missing"),
])
def test_malformed_records_are_named(tmp_path, path, value, words):
    file = tmp_path / "team_a.PrivateTest.json"
    file.write_text(json.dumps(edit(good(), path, value)))
    with pytest.raises(RecordError) as err:
        read_record(file)
    assert words in err.value.message and str(file) in err.value.message


def test_a_well_formed_record_reads_and_unknown_fields_are_refused(tmp_path):
    file = tmp_path / "r.json"
    file.write_text(json.dumps(good()))
    assert read_record(file).accuracy == 0.5
    file.write_text(json.dumps({**good(), "bonus_points": 10}))
    with pytest.raises(RecordError, match="malformed record"):
        read_record(file)


def test_a_version_1_record_still_reads_and_records_are_immutable(tmp_path):
    import dataclasses

    old = {k: v for k, v in good().items() if k not in ("higher_is_better", "precision", "weights_dtype")}
    file = tmp_path / "team_a.PrivateTest.json"
    file.write_text(json.dumps({**old, "schema": "fercomp.score/1"}))
    record = read_record(file)
    assert record.schema == "fercomp.score/1" and record.higher_is_better["accuracy"] is True
    assert record.settings_sha256 is None  # so scoring treats it as stale and re-scores it
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.accuracy = 0.99


def test_a_version_2_record_reads_but_is_stale(tmp_path):
    from fercomp.leaderboard import staleness

    old = {k: v for k, v in good().items() if k not in ("predictions", "intervals", "params_bits")}
    file = tmp_path / "team_a.PrivateTest.json"
    file.write_text(json.dumps({**old, "schema": "fercomp.score/2"}))
    record = read_record(file)
    assert record.predictions is None and record.intervals == {}
    reason = staleness(record, tmp_path / "team_a.py", record.data.get("sha256"), record.settings_sha256, record.settings)
    assert reason == "scored by an older fercomp (fercomp.score/2, now fercomp.score/5)"


#: numbers without a physical unit: fractions of the split, counts of things, and the competition's own
#: efficiency score (accuracy % per GFLOP, its formula and inputs in `efficiency_inputs`)
DIMENSIONLESS = {"accuracy", "top2_accuracy", "params_total", "params_trainable", "efficiency"}
UNITS = ("_s", "_ms", "_seconds", "_mb", "_bytes", "_bits", "gflops", "_flops", "_macs", "_per_s", "_percent", "_images",
         "_queries", "_batch", "ratio")


def test_every_measured_number_names_its_unit():
    import typing

    from fercomp.measure import roofline
    from fercomp.records import ScoreRecord
    from fercomp.scoring import throughput

    hints = typing.get_type_hints(ScoreRecord)
    numeric = [name for name, tp in hints.items() if {int, float} & set(typing.get_args(tp) or (tp,))]
    produced = {**roofline.check(50e9, 0.001, 1000), **throughput([128, 22], [0.1, 0.02], 0.2)}
    nested = [k for k, v in produced.items() if isinstance(v, (int, float))]
    unnamed = [n for n in numeric + nested if n not in DIMENSIONLESS and not n.endswith(UNITS) and not n.startswith("seconds_")]
    assert unnamed == [], unnamed
