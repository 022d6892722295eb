"""Hand-ins: weights by URL with a pinned hash (fetched by the parent, cached by content), declared
extra FILES staged beside the .py, and one named error for each way a hand-in can be incomplete."""

import hashlib
import os

import pytest
import torch

from fercomp.errors import SubmissionError
from fercomp.scoring import score_submission
from fercomp.submission.contract import read_submission
from fercomp.submission.fetch import weights_cache
from tests.http_server import LocalServer
from tests.scoring_helpers import fast_config

LINEAR = '''
import json
from pathlib import Path

import torch
from torch import nn

{meta}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7)
        # A declared extra file, read beside the staged .py: its bias decides the predicted class.
        self.favourite = json.loads((Path(__file__).parent / "team_url" / "config.json").read_text())["class"]

    def forward(self, x):
        return self.fc(x.flatten(1))
'''


@pytest.fixture
def server(tmp_path):
    (tmp_path / "www").mkdir()
    srv = LocalServer(tmp_path / "www")
    yield srv
    srv.close()


def _weights(path, favourite: int) -> str:
    """A state dict whose logits always favour class `favourite`; returns its sha256."""
    state = {"fc.weight": torch.zeros(7, 2304), "fc.bias": torch.nn.functional.one_hot(torch.tensor(favourite), 7).float()}
    torch.save(state, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _handin(folder, meta: str, favourite: int = 3):
    (folder / "team_url").mkdir(parents=True, exist_ok=True)
    (folder / "team_url" / "config.json").write_text(f'{{"class": {favourite}}}')
    path = folder / "team_url.py"
    path.write_text(LINEAR.format(meta=meta))
    return path


@pytest.mark.jail
def test_weights_by_url_are_fetched_once_verified_and_scored(tmp_path, server, small_csv):
    sha = _weights(server.root / "team_url.pt", 3)
    path = _handin(tmp_path / "subs", f'WEIGHTS_URL = "{server.url("team_url.pt")}"\nWEIGHTS_SHA256 = "{sha}"\n'
                                      'FILES = ["team_url/config.json"]')
    files = read_submission(path)
    assert files.weights_path == weights_cache() / f"{sha}.pt" and files.weights_sha256 == sha
    assert files.extra_files == ("team_url/config.json",) and files.weights_url == server.url("team_url.pt")
    read_submission(path)
    assert server.requests == ["/team_url.pt"]  # the second read came from the cache

    record = score_submission(path, fast_config(small_csv, tmp_path / "results"))
    assert record.status == "scored", record.failure
    labels = record.confusion_matrix
    assert sum(labels[k][3] for k in range(7)) == record.data["size"]  # every image predicted Happy (class 3)
    assert record.submission["weights_url"] == server.url("team_url.pt")
    assert record.submission["extra_files"] == ["team_url/config.json"]


def test_wrong_hash_is_named_and_nothing_is_cached(tmp_path, server):
    _weights(server.root / "w.pt", 3)
    wrong = "0" * 64
    path = _handin(tmp_path, f'WEIGHTS_URL = "{server.url("w.pt")}"\nWEIGHTS_SHA256 = "{wrong}"')
    with pytest.raises(SubmissionError) as err:
        read_submission(path)
    assert err.value.reason == "weights_hash_mismatch"
    assert "team_url.py" in err.value.message and "000000000000…" in err.value.message and "w.pt" in err.value.message
    assert not any(weights_cache().glob("*"))


@pytest.mark.parametrize("meta, reason, words", [
    ('WEIGHTS_URL = "http://127.0.0.1:{port}/missing.pt"\nWEIGHTS_SHA256 = "' + "a" * 64 + '"', "weights_unreachable", "HTTP 404"),
    ('WEIGHTS_URL = "http://127.0.0.1:9/x.pt"\nWEIGHTS_SHA256 = "' + "a" * 64 + '"', "weights_unreachable", "unreachable"),
    ('WEIGHTS_URL = "file:///etc/passwd"\nWEIGHTS_SHA256 = "' + "a" * 64 + '"', "bad_metadata", "http(s)"),
    ('WEIGHTS_URL = "http://127.0.0.1:{port}/w.pt"', "bad_metadata", "WEIGHTS_SHA256"),
    ('WEIGHTS_URL = "http://127.0.0.1:{port}/w.pt"\nWEIGHTS_SHA256 = "xyz"', "bad_metadata", "64 lower-case hex"),
    ('WEIGHTS = "a.pt"\nWEIGHTS_URL = "http://127.0.0.1:{port}/w.pt"', "bad_metadata", "not both"),
    ('FILES = ["nope.json"]', "file_missing", "nope.json"),
    ('FILES = ["../outside.json"]', "bad_metadata", "inside"),
    ('FILES = "team_url/config.json"', "bad_metadata", "list of file names"),
])
def test_incomplete_handins_get_one_named_error(tmp_path, server, meta, reason, words):
    (tmp_path / "outside.json").write_text("{}")
    port = server.httpd.server_address[1]
    path = _handin(tmp_path / "team", meta.replace("{port}", str(port)))
    with pytest.raises(SubmissionError) as err:
        read_submission(path)
    assert err.value.reason == reason and words in err.value.message and str(path) in err.value.message


@pytest.mark.jail
def test_the_worker_reads_its_staged_copy_not_the_team_folder(tmp_path, small_csv):
    """Extra files are copies in the worker's home: writing them changes nothing of the team's files."""
    path = _handin(tmp_path / "subs", 'FILES = ["team_url/config.json"]', favourite=5)
    path.write_text(path.read_text() + """\n(Path(__file__).parent / "team_url" / "config.json").write_text('{"class": 0}')\n""")
    _weights(path.with_suffix(".pt"), 5)
    before = (tmp_path / "subs" / "team_url" / "config.json").read_bytes()
    record = score_submission(path, fast_config(small_csv, tmp_path / "results"))
    assert record.status == "scored", record.failure
    assert (tmp_path / "subs" / "team_url" / "config.json").read_bytes() == before


@pytest.mark.parametrize("meta", ['FILES = ["victim.pt"]', 'WEIGHTS = "victim.pt"', 'FILES = ["team_url/link.pt"]',
                                  'FILES = ["victim.py"]'])
def test_a_hand_in_cannot_declare_another_teams_files(tmp_path, meta):
    """In a shared submissions folder, WEIGHTS and FILES name only `<team>.<ext>` or files under `<team>/`."""
    (tmp_path / "victim.py").write_text("# another team\n")
    torch.save({"w": torch.ones(1)}, tmp_path / "victim.pt")
    path = _handin(tmp_path, meta)
    (tmp_path / "team_url" / "link.pt").symlink_to(tmp_path / "victim.pt")  # a link out of the team's folder
    with pytest.raises(SubmissionError) as err:
        read_submission(path)
    assert err.value.reason == "not_own_file" and "is not this team's file" in err.value.message


def test_homes_left_by_a_killed_grading_run_are_removed(tmp_path):
    """A grading run killed mid-cohort cannot clean its jails' homes; the next run removes them (and only them)."""
    import subprocess
    import sys

    from fercomp.submission.staging import homes_root, new_home

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    stale = homes_root() / f"worker-{dead}-abc123"
    (stale / "handin").mkdir(parents=True)
    (stale / "handin" / "team.py").write_text("left behind")
    alive = homes_root() / f"worker-{os.getppid()}-def456"  # a live process's (this test's parent's) home stays
    alive.mkdir()
    mine = new_home("measurer")
    assert not stale.exists() and alive.exists() and mine.is_dir() and f"-{os.getpid()}-" in mine.name
    alive.rmdir()
    mine.rmdir()
