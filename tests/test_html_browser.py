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


def wide_board(tmp_path):
    """A board with every column filled as a real final board has them: intervals, latency, sandbox layers,
    report and final marks, long team names and the long notes a status can carry."""
    from dataclasses import replace

    from tests.test_marks import with_predictions

    rng = np.random.default_rng(3)
    layers = ["nsjail", "seccomp", "namespaces", "audit", "rlimits"]
    teams = {}
    for i, (name, accuracy, gflops) in enumerate([("convolutional_wizards_2026", 0.62, 0.0057), ("depthwise_dreamers", 0.58, 0.0017),
                                                  ("team_with_a_rather_long_name", 0.55, 0.3275), ("resnet_fans", 0.50, 1.87)]):
        rec = with_predictions(record(name, accuracy, gflops=gflops), rng.random(600) < accuracy)
        teams[name] = replace(rec, isolation=layers, latency={"latency_ms_p50": 10.0 + i}, params_total=25_890_000,
                              weight_bytes=103_576_821)
    base = with_predictions(record("baseline_cnn", 0.55, gflops=0.3275), rng.random(600) < 0.55)
    base = replace(base, isolation=layers, latency={"latency_ms_p50": 11.5}, params_total=25_890_000, weight_bytes=103_576_821)
    report = tmp_path / "report.csv"
    report.write_text("team,mark\n" + "".join(f"{name},{20 + i}\n" for i, name in enumerate(teams)))
    config = CompetitionConfig(marks=replace(CompetitionConfig().marks, beat_baseline="significant", efficiency_gate="baseline"))
    return build({**teams, "baseline_cnn": base}, "baseline_cnn", config, "PrivateTest", report_marks_path=report)


def measure_in_browser(tmp_path, page: str, script: str, size: str = "1400,900") -> dict:
    """Run `script` (a JS expression) once the page has loaded in headless chromium; its JSON value."""
    import json
    import re

    probe = ("<script>window.addEventListener('load',()=>{document.body.setAttribute('data-measured',"
             f"JSON.stringify({script}))}});</script>")
    path = tmp_path / "measured.html"
    path.write_text(page.replace("</body>", probe + "</body>"))
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={size}", "--dump-dom",
                          path.as_uri()], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r'data-measured="([^"]*)"', dom)
    assert found, dom[-2000:]
    import html as html_lib

    return json.loads(html_lib.unescape(found.group(1)))


@needs_browser
def test_a_full_board_fits_a_1400_by_900_window(tmp_path):
    board = wide_board(tmp_path)
    assert any(len(m.notes) >= 2 for m in board.marks)  # the long statuses that pushed the table wide
    page = to_html(board)
    measured = measure_in_browser(tmp_path, page, """(()=>{const t=document.getElementById('leaderboard');
        const status=[...t.tHead.rows[0].cells].find(c=>c.innerText.trim()==='status');
        return {viewport: innerWidth, page: document.documentElement.scrollWidth,
                table: t.getBoundingClientRect().right, status: status.getBoundingClientRect().right,
                columns: t.tHead.rows[0].cells.length}})()""")
    assert measured["columns"] == 17  # report and final marks shown: every column
    # nothing sticks out of the window: the page does not scroll sideways, and the last column is in view
    assert measured["page"] <= measured["viewport"] == 1400, measured
    assert measured["status"] <= measured["viewport"], measured


def test_the_legend_never_hides_the_baselines_star():
    import matplotlib.pyplot as plt

    from fercomp.render.plots import figure

    # the demo's case: the baseline at the most GFLOPs and the least accuracy, the lower right corner
    teams = {f"t{i}": record(f"t{i}", 0.35 + 0.05 * i, gflops=0.002 * (i + 1)) for i in range(4)}
    board = build({**teams, "baseline_cnn": record("baseline_cnn", 0.2767, gflops=0.3275)}, "baseline_cnn",
                  CompetitionConfig(), "PrivateTest")
    fig = figure(board)
    try:
        fig.canvas.draw()
        (ax,) = fig.axes
        legend = ax.get_legend().get_window_extent()
        star = next(c for c in ax.collections if c.get_label() == "baseline")
        x, y = ax.transData.transform(star.get_offsets()[0])
        radius = (star.get_sizes()[0] ** 0.5) / 2 * fig.dpi / 72  # marker size is an area in points²
        assert not (legend.x0 - radius <= x <= legend.x1 + radius and legend.y0 - radius <= y <= legend.y1 + radius)
        assert fig.bbox.contains(x, y) and fig.bbox.x0 <= legend.x0 and legend.x1 <= fig.bbox.x1  # both drawn
    finally:
        plt.close(fig)
