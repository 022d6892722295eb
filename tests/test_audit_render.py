"""The audit's Markdown, JSON (against its published schema) and HTML (in the real headless browser)."""

import json
import subprocess
from pathlib import Path

from fercomp.audit import CHECKS, Audit, Check, Finding
from fercomp.render.audit import to_html, to_json, to_markdown
from fercomp.schema import audit_schema
from tests.test_html_browser import CHROMIUM, FLAGS, needs_browser

SCHEMA = Path(__file__).parents[1] / "docs" / "schema" / "audit.schema.json"


def audit() -> Audit:
    long = "held-out 400/400 = 100.00%, public 58/400 = 14.50%; mean loss 0.000 vs 1.946 " * 4
    checks = [Check(cid, *CHECKS[cid], findings=(Finding(("memo & <co>",), 0.855, 1e-12, True, long),
                                                  Finding(("honest",), 0.01, 0.9, False, "nothing unusual")),
                    cohort={"n": 2, "median": 0.01, "spread": 0.02}) for cid in CHECKS if cid != "code_similarity"]
    checks.append(Check("code_similarity", *CHECKS["code_similarity"], not_run="no submissions folder given"))
    return Audit(split="PrivateTest", checks=tuple(checks), settings={"alpha": 0.001}, notes=("perturbation probe on",))


def test_markdown_has_one_section_per_check_with_the_cohort_and_escaped_cells():
    md = to_markdown(audit())
    assert md.count("\n## ") == len(CHECKS)
    assert "Not run: no submissions folder given." in md and "cohort: median" in md
    assert "| memo & <co> | +85.50% | 1e-12 | **yes** |" in md


def test_json_matches_the_published_schema():
    import jsonschema

    assert json.loads(SCHEMA.read_text()) == json.loads(json.dumps(audit_schema())), "run python -m fercomp.schema docs/schema"
    doc = json.loads(to_json(audit()))
    jsonschema.validate(doc, audit_schema())
    assert doc["under_review"] == ["memo & <co>"]


@needs_browser
def test_html_renders_and_fits_a_1400_pixel_window(tmp_path):
    page = to_html(audit())
    assert "memo &amp; &lt;co&gt;" in page
    probe = ("<script>document.body.setAttribute('data-width', document.documentElement.scrollWidth);"
             "document.body.setAttribute('data-sections', document.querySelectorAll('section').length);</script>")
    path = tmp_path / "audit.html"
    path.write_text(page.replace("</body>", probe + "</body>"))
    dom = subprocess.run([CHROMIUM, *FLAGS, "--user-data-dir=" + str(tmp_path / "profile"), "--window-size=1400,900",
                          "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=60).stdout
    assert f'data-sections="{len(CHECKS)}"' in dom
    width = int(dom.split('data-width="')[1].split('"')[0])
    assert width <= 1400, f"the audit page is {width} px wide at a 1400-pixel window"


def test_a_pairs_order_is_shown_where_the_course_knows_it():
    pair = Finding(("copy", "source"), 1.0, None, True, "byte-identical .py", first="source")
    report = Audit(split="PrivateTest", checks=(Check("identical_files", *CHECKS["identical_files"], findings=(pair,)),),
                   settings={}, handed_in={"copy": "2026-12-02T09:00:00+00:00", "source": "2026-12-01T09:00:00+00:00"})
    assert "| copy & source (source handed in first) | 1.000 |" in to_markdown(report)
    assert "copy &amp; source (source handed in first)" in to_html(report)
    assert json.loads(to_json(report))["checks"][0]["findings"][0]["first"] == "source"
