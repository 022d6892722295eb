import re

import pytest

from fercomp.config import load_config
from fercomp.errors import UsageError


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config()
    assert cfg.marks.accuracy == 10 and cfg.marks.report == 30 and cfg.competition.held_out == "PrivateTest"
    assert cfg.source == "(defaults)"


def test_file_in_working_directory_overrides(tmp_path, monkeypatch):
    (tmp_path / "fercomp.toml").write_text('[marks]\nscale = "rank"\naccuracy = 20\n[limits]\ntime_s = 30\n')
    monkeypatch.chdir(tmp_path)
    cfg = load_config()
    assert cfg.marks.scale == "rank" and cfg.marks.accuracy == 20.0 and cfg.limits.time_s == 30.0
    assert cfg.marks.efficiency == 10


@pytest.mark.parametrize(
    "text,message",
    [
        ("[marks]\nacuracy = 10\n", "unknown key 'acuracy' in [marks]"),
        ("[mark]\n", "unknown table [mark]"),
        ('[marks]\nscale = "logarithmic"\n', "scale = 'logarithmic' must be one of linear, rank, log"),
        ('[marks]\nefficiency_gate = "top"\n', "efficiency_gate = 'top' must be \"baseline\", \"none\" or an accuracy"),
        ('[marks]\nefficiency_gate = 1.5\n', "efficiency_gate = 1.5 must be"),
        ('[limits]\nmemory_mb = "lots"\n', "memory_mb = 'lots' must be an integer"),
        ("[marks]\naccuracy = -1\n", "must not be negative"),
        ("[marks\n", "not valid TOML"),
        ('[audit]\nstarter_files = "submissions/small_cnn.py"\n', "starter_files = 'submissions/small_cnn.py' must be a list"),
        ("[audit]\nstarter_files = [1]\n", "must be a list of strings"),
        ("[audit]\nweights_permuted = 1.5\n", "weights_permuted = 1.5 must be between 0 and 1"),
    ],
)
def test_bad_config_is_a_one_line_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        load_config(path)
    assert str(path) in info.value.message


def test_named_config_must_exist(tmp_path):
    with pytest.raises(UsageError, match="no such config file"):
        load_config(tmp_path / "absent.toml")


def test_starter_files_are_a_list_of_paths(tmp_path):
    path = tmp_path / "fercomp.toml"
    path.write_text('[audit]\nstarter_files = ["submissions/small_cnn.py", "examples/net.py"]\n')
    assert load_config(path).audit.starter_files == ("submissions/small_cnn.py", "examples/net.py")
