"""JSON Schemas of fercomp's outputs, generated from the dataclasses that define them: the score record
(`records.ScoreRecord`), the leaderboard JSON (`board.Leaderboard` as `render.text_formats.to_json`
writes it) and the audit JSON (`audit.Audit`). Published in docs/schema/ (`python -m fercomp.schema docs/schema`); the tests keep the
published copies current and validate real outputs against them."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from pathlib import Path

from fercomp.audit import CHECKS, Audit, Check, Finding
from fercomp.audit.model import SCHEMA as AUDIT_SCHEMA
from fercomp.board import Leaderboard
from fercomp.config import CompetitionConfig
from fercomp.marks import Comparison, TeamMarks
from fercomp.records import SCHEMA, ScoreRecord
from fercomp.roster import StudentGrade

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array",
           tuple: "array", type(None): "null"}


def type_schema(tp) -> dict:
    """The JSON Schema of one annotated type: simple types, X | None, list[X], dict[K, V], tuples, dataclasses."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [type_schema(a) for a in args]}
    if dataclasses.is_dataclass(tp):
        return dataclass_schema(tp)
    if origin in (list, tuple):
        items = [a for a in args if a is not Ellipsis]
        return {"type": "array", **({"items": type_schema(items[0])} if len(set(items)) == 1 else {})}
    if origin is dict:
        return {"type": "object", **({"additionalProperties": type_schema(args[1])} if args else {})}
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]} if tp is not float else {"type": "number"}
    return {}  # object: anything


def dataclass_schema(cls) -> dict:
    """An object with exactly the dataclass's fields; those without a default are required."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    return {"type": "object", "title": cls.__name__, "properties": {f.name: type_schema(hints[f.name]) for f in fields},
            "required": required, "additionalProperties": False}


def record_schema() -> dict:
    body = dataclass_schema(ScoreRecord)
    body["properties"]["schema"] = {"const": SCHEMA}
    body["properties"]["status"] = {"enum": ["scored", "failed"]}
    # the nested fields every reader relies on (records.read_record refuses a record without them)
    body["properties"]["submission"] = {"type": "object", "required": ["name", "sha256"], "properties": {
        "name": {"type": "string", "minLength": 1}, "sha256": {"type": ["string", "null"]}}}
    body["properties"]["data"] = {"type": "object", "required": ["split", "size"], "properties": {
        "split": {"type": "string"}, "size": {"type": "integer"}, "sha256": {"type": ["string", "null"]}}}
    body["properties"]["accuracy"] = {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}]}
    return {"$schema": DRAFT, "$id": SCHEMA, "description": "A fercomp score record: one submission × split.", **body}


def leaderboard_schema() -> dict:
    properties = {
        "phase": {"enum": ["public", "final"]}, "split": {"type": "string"}, "baseline": {"type": "string"},
        "config": dataclass_schema(CompetitionConfig), "marks": {"type": "array", "items": dataclass_schema(TeamMarks)},
        "notes": {"type": "array", "items": {"type": "string"}}, "refused": {"type": "array", "items": {"type": "string"}},
        "grades": {"type": "array", "items": dataclass_schema(StudentGrade)},
        "efficiency_scheme": {"type": "object", "required": ["name", "formula"], "properties": {
            "name": {"enum": ["acc_per_gflop", "micronet", "acc_per_ms"]}, "formula": {"type": "string"}}},
        "explanation": {"type": "string"},
        "comparisons": {"type": "array", "items": dataclass_schema(Comparison)},
        "under_review": {"type": "array", "items": {"type": "string"}},
    }
    return {"$schema": DRAFT, "$id": "fercomp.leaderboard/2", "title": Leaderboard.__name__,
            "description": "A fercomp leaderboard as leaderboard-<split>.json.", "type": "object",
            "properties": properties, "required": sorted(properties), "additionalProperties": False}


def audit_schema() -> dict:
    body = dataclass_schema(Audit)
    body["properties"]["schema"] = {"const": AUDIT_SCHEMA}
    body["properties"]["checks"] = {"type": "array", "items": dataclass_schema(Check)}
    body["properties"]["checks"]["items"]["properties"]["findings"] = {"type": "array", "items": dataclass_schema(Finding)}
    body["properties"]["checks"]["items"]["properties"]["id"] = {"enum": list(CHECKS)}
    body["properties"]["under_review"] = {"type": "array", "items": {"type": "string"}}
    body["required"] = sorted(set(body["required"]) | {"schema", "under_review"})
    return {"$schema": DRAFT, "$id": AUDIT_SCHEMA, "description": "A fercomp audit as audit-<split>.json.", **body}


SCHEMAS = {"score-record.schema.json": record_schema, "leaderboard.schema.json": leaderboard_schema,
           "audit.schema.json": audit_schema}


def write(folder: Path) -> list[Path]:
    from fercomp.atomic import write_text

    out = []
    for name, make in SCHEMAS.items():
        write_text(Path(folder) / name, json.dumps(make(), indent=2, ensure_ascii=False) + "\n")
        out.append(Path(folder) / name)
    return out


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schema")):
        print(f"wrote {path}")
