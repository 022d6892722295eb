"""Phases: the public phase never reaches the held-out split; the final phase waits for its reveal date."""

import datetime as dt

import pytest

from fercomp.config import CompetitionConfig, PhasesSection, load_config
from fercomp.errors import UsageError
from fercomp.phases import guard_public, phase_split

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def config(reveal: str = "") -> CompetitionConfig:
    return CompetitionConfig(phases=PhasesSection(reveal=reveal))


def test_each_phase_has_its_split():
    assert phase_split(config(), "public", now=NOW) == "PublicTest"
    assert phase_split(config(), "final", now=NOW) == "PrivateTest"
    with pytest.raises(UsageError, match="only --phase final scores it"):
        phase_split(config(), "public", "privatetest", now=NOW)
    with pytest.raises(UsageError, match="expected public or final"):
        phase_split(config(), "private", now=NOW)


@pytest.mark.parametrize("reveal, allowed", [("2026-12-01", True), ("2026-12-01T13:00:00+02:00", True),
                                             ("2026-12-01T12:00:01", False), ("2026-12-02", False)])
def test_reveal_date_guards_the_final_phase(reveal, allowed):
    if allowed:
        assert phase_split(config(reveal), "final", now=NOW) == "PrivateTest"
    else:
        with pytest.raises(UsageError, match="--before-reveal"):
            phase_split(config(reveal), "final", now=NOW)
        assert phase_split(config(reveal), "final", before_reveal=True, now=NOW) == "PrivateTest"


def test_bad_reveal_is_a_config_error(tmp_path):
    path = tmp_path / "fercomp.toml"
    path.write_text('[phases]\nreveal = "next friday"\n')
    with pytest.raises(UsageError, match=r"\[phases\] reveal = 'next friday' must be an ISO date"):
        load_config(path)


def test_public_guard_uses_the_data_s_own_held_out_split():
    guard_public("public", "PublicTest", "PrivateTest")
    guard_public("final", "test", "test")
    with pytest.raises(UsageError, match="only the final phase"):
        guard_public("public", "test", "test")  # a folder source: its held-out split is test
