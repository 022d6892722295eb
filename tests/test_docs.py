"""The documentation cannot drift from the code: the generated references are current and complete (every command,
option, fercomp.toml key and record field), the site builds with --strict (no broken link or anchor, no page left
out of the nav), the README's links land, and user-facing pages carry no maintainers' notes."""

import dataclasses
import html.parser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fercomp.cli import reference

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
REGENERATE = "run `make docs` (or `python -m fercomp.cli.reference docs/reference`) and commit the result"


def sections(text: str) -> dict[str, str]:
    """A Markdown page's sections by heading text (the backticks removed)."""
    parts = re.split(r"^#{1,4} (.+)$", text, flags=re.M)
    return {parts[i].replace("`", "").strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@pytest.mark.parametrize("name", sorted(reference.PAGES))
def test_committed_reference_equals_a_fresh_one(name):
    committed = REFERENCE / name
    assert committed.is_file(), f"docs/reference/{name} is missing: {REGENERATE}"
    fresh = reference.generate()[name]
    assert committed.read_text(encoding="utf-8") == fresh, f"docs/reference/{name} is stale: {REGENERATE}"


def test_cli_reference_names_every_command_and_option():
    """Walked from the Typer app independently of the generator: a command or option it skipped is named."""
    page = sections((REFERENCE / "cli.md").read_text(encoding="utf-8"))
    root, ctx = reference.root_command()
    seen = 0
    for path, command, cctx in reference.commands(root, ctx, "fercomp"):
        assert path in page, f"command `{path}` is missing from docs/reference/cli.md: {REGENERATE}"
        for param in command.get_params(cctx):
            if getattr(param, "hidden", False):
                continue
            for opt in [*param.opts, *param.secondary_opts] if param.param_type_name == "option" else [param.name]:
                assert opt in page[path], f"`{path}` {opt} is missing from docs/reference/cli.md: {REGENERATE}"
                seen += 1
    assert seen > 150  # the app's options really were walked (a broken walk would pass vacuously)


def test_config_reference_gives_every_key_a_type_default_and_meaning():
    page = sections((REFERENCE / "config.md").read_text(encoding="utf-8"))
    for table, cls in reference.config_tables():
        assert f"[{table}]" in page, f"[{table}] is missing from docs/reference/config.md: {REGENERATE}"
        rows = {cells[0].strip("` "): cells for cells in (line.strip("|").split(" | ") for line in page[f"[{table}]"].splitlines()
                                                          if line.startswith("| `"))}
        for field in dataclasses.fields(cls):
            assert field.name in rows, f"[{table}] {field.name} is missing from docs/reference/config.md: {REGENERATE}"
            meaning = rows[field.name][4].strip(" |")
            assert meaning, (f"[{table}] {field.name} has no meaning: write a comment beside or above the field in "
                             f"fercomp/config.py, then {REGENERATE}")


def test_field_comments_are_read_from_the_source():
    """The meaning of a key is its comment: above the field, beside it, or continued below it."""
    from fercomp.config import AuditSection, MarksSection

    marks, audit = reference.field_comments(MarksSection), reference.field_comments(AuditSection)
    assert marks["accuracy"] == "maximum accuracy mark"
    assert marks["efficiency_gate"].startswith("Who may earn an efficiency mark")  # the comment above
    assert marks["scale"].startswith("linear: by improvement") and marks["scale"].endswith("(accuracy stays linear)")
    assert audit["withhold"].startswith("true: a team flagged on its own evidence")


def test_records_reference_names_every_field():
    from fercomp.marks import TeamMarks
    from fercomp.records import ScoreRecord

    text = (REFERENCE / "records.md").read_text(encoding="utf-8")
    for cls in (ScoreRecord, TeamMarks):
        for field in dataclasses.fields(cls):
            assert f"| `{field.name}` |" in text, f"{cls.__name__}.{field.name} is missing from docs/reference/records.md"
    for schema in ("score-record", "leaderboard", "audit", "gradescope-results"):
        assert f"../schema/{schema}.schema.json" in text and (DOCS / "schema" / f"{schema}.schema.json").is_file()


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name == "id")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built once with --strict from this checkout (offline: nothing is fetched)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    assert "No module named mkdocs" not in done.stderr, "mkdocs is a dev dependency: pip install -e '.[dev]'"
    assert done.returncode == 0, "mkdocs build --strict failed (a broken link or anchor, or a page not in the nav):\n" + \
        done.stderr[-4000:]
    return out


def test_site_builds_strictly_with_every_page(site):
    for page in DOCS.rglob("*.md"):
        built = site / page.relative_to(DOCS).with_suffix(".html")
        assert built.is_file(), f"{page.relative_to(ROOT)} was not built"


def test_readme_links_land_on_pages_and_anchors(site):
    """The README is not part of the site, so mkdocs does not check its links: every docs/ link and anchor is
    checked here against the built pages."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#\s]+)(?:#([^)\s]+))?\)", text)
    assert len(links) > 15
    for target, anchor in links:
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
        if anchor:
            parser = _Ids()
            parser.feed((site / Path(target).relative_to("docs")).with_suffix(".html").read_text(encoding="utf-8"))
            assert anchor in parser.ids, f"README links to {target}#{anchor}, an anchor that page does not have"


def test_readme_is_short_and_has_the_two_setup_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert "make demo" in text and "make test" in text
    assert "## Student quick start" in text and "## Instructor quick start" in text


def test_user_docs_carry_no_maintainers_notes():
    pages = [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if p.name != "changelog.md")]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        issue = re.search(r"(?<![\w`/&])#\d+\b", text)
        assert not issue, f"{page.relative_to(ROOT)} names an issue number ({issue.group()}): say what, not which ticket"
        assert "attacker's pass" not in text, f"{page.relative_to(ROOT)} keeps a maintainers' note"


def test_every_command_has_a_page_for_its_reader():
    """Each command is explained in a hand-written page, not only in the generated reference."""
    from fercomp.cli import app

    written = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    names = {c.name or c.callback.__name__ for c in app.registered_commands} | {g.name for g in app.registered_groups}
    for name in names:
        assert f"fercomp {name}" in written, f"no page under docs/ explains `fercomp {name}`"


def test_help_shows_bracketed_config_tables(cli):
    """Rich markup would eat a bare `[phases]` from --help (and the reference would disagree): it is escaped."""
    code, out, _ = cli("leaderboard", "--help")
    assert code == 0 and "[phases]" in out
    assert "before [phases] reveal" in (REFERENCE / "cli.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", [(), ("score",), ("data",), ("data", "synth"), ("gradescope",), ("supplement",)])
def test_help_shows_no_type_for_a_flag(cli, command):
    """A flag takes no value: `--help <bool>` (typer's own help option) would tell a user to type one."""
    code, out, _ = cli(*command, "--help")
    assert code == 0 and "--help" in out and "<bool>" not in out, out


def fenced(page: str, lang: str, after: str) -> str:
    """The first `lang` block after the text `after` in docs/`page`, verbatim."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.search(rf"```{lang}\n(.*?)```", text[text.index(after):], re.S).group(1)


def test_students_minimal_submission_meets_the_contract(tmp_path):
    """The guide's minimal submission, as printed, is found by the contract and builds a [N, 7] model (the README's
    quick start trains, checks and scores its own; this one costs no jail)."""
    import torch

    from fercomp.submission import build
    from fercomp.submission.contract import read_submission

    path = tmp_path / "team_a.py"
    path.write_text(fenced("students.md", "python", "A minimal submission (`submissions/team_a.py`)"))
    files = read_submission(path)
    model = build.build_model(build.import_source(files.source, str(files.path), "docs_team_a"), {}).eval()
    assert model(torch.zeros(2, 1, 48, 48)).shape == (2, 7)


def test_training_ablation_spec_loads_as_printed(tmp_path):
    from fercomp.ablation import load_spec, rows

    spec = tmp_path / "study.toml"
    spec.write_text(fenced("training.md", "toml", "## Ablation studies"))
    study = load_spec(spec)
    assert [m.name for m in study.methods] == ["batchnorm", "flip", "label smoothing", "clip by value", "reflect crop"]
    assert len(rows(study)) == 6  # cumulative: the base row and one row per method added
