"""The private supplement's settings: init writes and explains it, a course can require it or pool it into the
held-out accuracy, and a final phase without one says that memorisation of public faces cannot be excluded."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from fercomp.audit_passes import AuditPasses, build_views
from fercomp.config import NO_SUPPLEMENT, CompetitionConfig, check_supplement, load_config
from fercomp.data.source import load_data
from fercomp.data.supplement import Supplement, supplement_csv
from fercomp.errors import UsageError


def _config(**sections) -> CompetitionConfig:
    base = CompetitionConfig()
    return dataclasses.replace(base, **{name: dataclasses.replace(getattr(base, name), **values)
                                        for name, values in sections.items()})


@pytest.fixture(scope="module")
def supplement(tmp_path_factory, small_csv):
    """Six private faces (smooth random blobs, far from every public face) and two public ones, one mirrored."""
    rng = np.random.default_rng(11)
    private = np.stack([np.kron(rng.integers(0, 256, (6, 6)), np.ones((8, 8))) for _ in range(6)]).astype(np.uint8)
    public = load_data(small_csv, announce=False)
    faces = np.concatenate([private, public.images[[0]], public.images[[1], :, ::-1]])
    path = tmp_path_factory.mktemp("supplement") / "supplement.csv"
    path.write_text(supplement_csv(Supplement(faces, np.arange(8) % 7, [])))
    return path


def test_init_writes_and_explains_the_key(tmp_path):
    from fercomp.course import InitOptions, init_course, next_steps

    init_course(tmp_path / "a", InitOptions(fercomp_spec="fercomp==0.1.0"))
    text = (tmp_path / "a" / "fercomp.toml").read_text()
    assert 'private_supplement = ""' in text and "memorisation cannot be excluded" in text
    assert load_config(tmp_path / "a" / "fercomp.toml").competition.require_supplement is False
    steps = " ".join(next_steps(tmp_path / "a", InitOptions()))
    assert "fercomp supplement PHOTOS" in steps and "memorised" in steps
    init_course(tmp_path / "b", InitOptions(fercomp_spec="fercomp==0.1.0", supplement="data/supplement.csv"))
    assert load_config(tmp_path / "b" / "fercomp.toml").competition.private_supplement == "data/supplement.csv"
    assert "out of git" in " ".join(next_steps(tmp_path / "b", InitOptions(supplement="data/supplement.csv")))


def test_a_course_can_require_it():
    from fercomp.audit_passes import for_phase

    required = _config(competition={"require_supplement": True})
    with pytest.raises(UsageError, match="require_supplement = true but private_supplement is empty"):
        for_phase(required, "final")
    assert for_phase(required, "public") is None  # the live board needs none
    with pytest.raises(UsageError, match="held_out_includes_supplement = true"):
        check_supplement(_config(marks={"held_out_includes_supplement": True}))
    check_supplement(_config(competition={"require_supplement": True, "private_supplement": "s.csv"}))


def test_views_drop_public_faces_and_say_when_there_is_none(small_csv, supplement):
    data = load_data(small_csv, announce=False)
    held = data.select("PrivateTest")
    views, notes = build_views(AuditPasses(public_split=None, training_sample=0, supplement=str(supplement), perturb=False),
                               data, held)
    assert views[0].detail["images"] == 6 and views[0].detail["duplicates_dropped"] == 2
    assert any("2 face(s) dropped" in n for n in notes)
    _, notes = build_views(AuditPasses(public_split=None, training_sample=0, perturb=False), data, held)
    assert NO_SUPPLEMENT in notes


def test_held_out_accuracy_can_include_it(small_csv, supplement):
    from fercomp.scoring import ScoreConfig, _base_record, _held_subset, settings_of

    cfg = _config(competition={"private_supplement": str(supplement)}, marks={"held_out_includes_supplement": True})
    config = ScoreConfig.from_competition(cfg, small_csv, "PrivateTest", "final")
    data, subset, split = _held_subset(config, None)
    held = data.select("PrivateTest")
    assert len(subset) == len(held) + 6 and (subset.select("PrivateTest").labels[-6:] == np.arange(6) % 7).all()
    assert str(subset.ids[-1]).startswith("supplement:")
    record = _base_record(Path("team.py"), subset, split, config)
    assert record.data["supplement_images"] == 6 and record.data["size"] == len(held) + 6
    assert settings_of(config)["held_out_supplement"]["path"] == str(supplement)
    public = ScoreConfig.from_competition(cfg, small_csv, "PublicTest", "public")
    assert public.held_out_supplement is None and len(_held_subset(public, data)[1]) == len(data.select("PublicTest"))
    plain = ScoreConfig.from_competition(_config(competition={"private_supplement": str(supplement)}), small_csv,
                                         "PrivateTest", "final")
    assert "held_out_supplement" not in settings_of(plain) and len(_held_subset(plain, data)[1]) == len(held)


def test_the_final_board_says_what_the_supplement_does():
    from fercomp.board import Leaderboard
    from fercomp.records import SCHEMA, ScoreRecord
    from fercomp.render.text_formats import explanation

    baseline = ScoreRecord(schema=SCHEMA, status="scored", submission={"name": "baseline"},
                           data={"size": 3595, "supplement_images": 6}, environment={}, timestamp="", isolation=[])
    board = Leaderboard(split="PrivateTest", baseline=baseline, teams={}, marks=[], config=_config())
    assert "memorisation of public faces cannot be excluded" in explanation(board)
    assert "cannot be excluded" not in explanation(dataclasses.replace(board, phase="public"))
    pooled = dataclasses.replace(board, config=_config(competition={"private_supplement": "s.csv"},
                                                       marks={"held_out_includes_supplement": True}))
    assert "includes the course's private supplement: 6 of its 3595 images" in explanation(pooled)


def test_a_required_supplement_stops_the_final_phase_in_one_line(cli, tmp_path, monkeypatch, small_csv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "submissions").mkdir()
    (tmp_path / "req.toml").write_text(f'[competition]\ndata = "{small_csv}"\nrequire_supplement = true\n')
    code, _, err = cli("leaderboard", "--phase", "final", "--config", "req.toml")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "require_supplement = true" in err, err
    assert not (tmp_path / "reports").exists()  # refused before anything was scored
