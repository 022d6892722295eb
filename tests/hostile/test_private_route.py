"""The private route: hand-ins by link and sha256 (a form's CSV), collected into the submissions folder. A zip that
writes another team's file, a path outside the folder or a link is refused by name; the others are collected."""

import hashlib
import io
import stat
import zipfile

import pytest

from fercomp.collect import read_handins
from fercomp.errors import UsageError
from tests.http_server import LocalServer


def zip_of(files: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buffer.getvalue()


@pytest.fixture
def served(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    server = LocalServer(www)
    yield www, server
    server.close()


def test_collect_unpacks_own_files_and_refuses_the_rest_by_name(cli, tmp_path, served, monkeypatch):
    www, server = served
    zips = {
        "alpha": zip_of({"alpha.py": b"A = 1\n", "alpha.pt": b"weights", "alpha/vocab.json": b"{}"}),
        "beta": zip_of({"beta.py": b"B = 1\n", "gamma.py": b"# beta writes gamma's file\n"}),
        "gamma": zip_of({"gamma.py": b"G = 2\n"}),
        "delta": zip_of({"delta.py": b"D = 1\n", "../ci/check.sh": b"exit 0\n"}),
        "eps": zip_of({"eps.py": b"E = 1\n"}, links=("eps.pt",)),
    }
    rows = ["team,url,sha256"]
    for team, data in zips.items():
        (www / f"{team}.zip").write_bytes(data)
        sha = hashlib.sha256(data).hexdigest() if team != "gamma" else "0" * 64  # gamma's form has a stale hash
        rows.append(f"{team},{server.url(team + '.zip')},{sha}")
    (tmp_path / "handins.csv").write_text("\n".join(rows) + "\n")
    subs = tmp_path / "course" / "submissions"
    subs.mkdir(parents=True)
    (subs / "gamma.py").write_text("G = 1\n")  # gamma's earlier hand-in stays when the new one is refused
    (subs / "alpha.pth").write_bytes(b"old weights")  # alpha's earlier files go with its new hand-in
    monkeypatch.chdir(tmp_path / "course")

    code, out, _ = cli("collect", tmp_path / "handins.csv")

    assert code == 1, out
    assert "alpha: collected alpha.pt, alpha.py, alpha/vocab.json" in out
    assert "beta: refused: gamma.py: not one of beta's own files" in out
    assert "gamma: refused: row 4: the zip's sha256 is" in out and "a file changed after its hash was taken" in out
    assert "delta: refused: ../ci/check.sh: not one of delta's own files" in out
    assert "eps: refused: eps.pt: a link" in out and out.strip().endswith("1 collected, 4 refused: beta, gamma, delta, eps")
    assert sorted(str(p.relative_to(subs)) for p in subs.rglob("*") if p.is_file()) == \
        ["alpha.pt", "alpha.py", "alpha/vocab.json", "gamma.py"]
    assert (subs / "gamma.py").read_text() == "G = 1\n" and not (tmp_path / "ci").exists()


def test_a_bad_form_row_is_one_line_naming_it(tmp_path):
    path = tmp_path / "handins.csv"
    for body, words in (("team,url\nalpha,https://x/a.zip\n", "no column sha256"),
                        ("team,url,sha256\n9lives,https://x/a.zip," + "a" * 64 + "\n", ":2: team '9lives'"),
                        ("team,url,sha256\nalpha,file:///etc/passwd," + "a" * 64 + "\n", ":2: url 'file:///etc/passwd'"),
                        ("team,url,sha256\nalpha,https://x/a.zip,abc\n", ":2: sha256 'abc'")):
        path.write_text(body)
        with pytest.raises(UsageError, match=words):
            read_handins(path)
    path.write_text("Team,URL,SHA256,When\nalpha,https://x/1.zip," + "a" * 64 + ",mon\nalpha,https://x/2.zip," + "b" * 64 + ",tue\n")
    assert [(h.url, h.row) for h in read_handins(path)] == [("https://x/2.zip", 3)]  # a re-submission replaces
