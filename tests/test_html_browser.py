"""The HTML leaderboard in a real headless browser: rows present, plot drawn, no network needed."""

import os
import shutil
import subprocess

import numpy as np
import pytest

from fercomp.config import CompetitionConfig
from fercomp.leaderboard import build
from fercomp.render.html import to_html
from fercomp.render.plots import pareto_front
from tests.test_marks import record

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail("chromium is required in CI (make test installs it with apt-get)", pytrace=False)
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="no chromium here; `make test` installs it (apt-get install chromium)")


def board():
    teams = {"alpha & co": record("alpha & co", 0.71, gflops=0.30), "beta": record("beta", 0.66, gflops=0.02),
             "<gamma>": record("<gamma>", 0.55, gflops=0.01)}
    return build({**teams, "baseline_cnn": record("baseline_cnn", 0.55, gflops=0.3275)}, "baseline_cnn",
                 CompetitionConfig(), "PrivateTest")


def test_pareto_front():
    points = [(0.3, 71, "a"), (0.02, 66, "b"), (0.01, 55, "c"), (0.5, 60, "d")]
    assert [p[2] for p in pareto_front(points)] == ["c", "b", "a"]


def test_page_is_self_contained():
    import re

    page = to_html(board())
    # XML namespace URIs in the SVG are names, not downloads; nothing may be fetched.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page) and "@import" not in page and "<link" not in page
    assert "&lt;gamma&gt;" in page and "alpha &amp; co" in page


@needs_browser
def test_page_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "leaderboard.html"
    page.write_text(to_html(board()))
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([CHROMIUM, *FLAGS, *profile, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60).stdout
    assert dom.count("<tr") == 1 + 4  # header + baseline + three teams
    assert "baseline_cnn (baseline)" in dom and "alpha &amp; co" in dom
    assert dom.count("<path") > 10 and "Pareto front" in dom
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, *profile, f"--screenshot={shot}", "--window-size=1200,1400", page.as_uri()],
                   capture_output=True, timeout=60)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (1400, 1200) and pixels.std() > 10  # not a blank page
