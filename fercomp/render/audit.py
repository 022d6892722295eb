"""The audit as Markdown, a self-contained HTML page and JSON: one section per check, the cohort beside each value."""

from __future__ import annotations

import html
import json
from pathlib import Path

from fercomp.atomic import write_text
from fercomp.audit import Audit, Check, Finding

FORMATS = ("md", "html", "json")
_SUFFIX = {"md": "md", "html": "html", "json": "json"}


def _value(check: Check, finding: Finding) -> str:
    if finding.value is None:
        return "—"
    if check.id in ("split_gap", "train_gap", "supplement_gap", "perturbation_drop", "perturbation_kinds", "confidence_shape"):
        return f"{finding.value:+.2%}"
    if check.id == "ceiling":
        return f"{finding.value:.2%}"
    return f"{finding.value:.3f}"


def _cohort(check: Check) -> str:
    c = check.cohort
    fmt = (lambda v: f"{v:+.2%}") if check.id.endswith(("gap", "drop", "kinds", "shape")) else (lambda v: f"{v:.3f}")
    if c and all(isinstance(v, dict) for v in c.values()):  # one cohort per perturbation kind or reference split
        parts = [f"{k} {fmt(v['median'])} (spread {abs(v['spread']):.3g})" for k, v in c.items() if v.get("median") is not None]
        return f"cohort medians, n = {max(v['n'] for v in c.values())}: " + ", ".join(parts) if parts else ""
    if not c or c.get("median") is None:
        return ""
    return f"cohort: median {fmt(c['median'])}, spread (1.4826·MAD) {abs(c['spread']):.3g}, n = {c['n']}"


def teams_words(finding: Finding) -> str:
    """The team, or the pair with which was handed in first where the course's hand-in times say."""
    return " & ".join(finding.teams) + (f" ({finding.first} handed in first)" if finding.first else "")


def _p(finding: Finding) -> str:
    return "—" if finding.p_value is None else f"{finding.p_value:.2g}"


def to_markdown(audit: Audit) -> str:
    lines = [f"# Audit — {audit.split}", "",
             f"Under review: {', '.join(audit.under_review) or 'nobody'}. A flag is a reason to look, with its numbers; "
             "it is not a verdict.", ""]
    for note in audit.notes:
        lines.append(f"- note: {note}")
    for check in audit.checks:
        lines += ["", f"## {check.title} (`{check.id}`)", "", f"Statistic: {check.statistic}. Flagged when: {check.rule}."]
        if check.not_run:
            lines += ["", f"Not run: {check.not_run}."]
            continue
        if _cohort(check):
            lines += ["", _cohort(check) + "."]
        if not check.findings:
            lines += ["", "Nothing to report."]
            continue
        lines += ["", "| teams | value | p (Holm) | flagged | detail |", "|---|---:|---:|---|---|"]
        for f in check.findings:
            detail = f.detail.replace("|", "\\|")
            lines.append(f"| {teams_words(f)} | {_value(check, f)} | {_p(f)} | {'**yes**' if f.flagged else 'no'} | {detail} |")
    return "\n".join(lines) + "\n"


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1300px}table{border-collapse:collapse;
width:100%;table-layout:auto}th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f4f4f4}tr.flagged{background:#fdecea}.note{color:#555}td.detail{overflow-wrap:anywhere}"""


def to_html(audit: Audit) -> str:
    parts = [f"<h1>Audit — {html.escape(audit.split)}</h1>",
             f"<p id='under-review'>Under review: {html.escape(', '.join(audit.under_review) or 'nobody')}. "
             "A flag is a reason to look, with its numbers; it is not a verdict.</p>"]
    parts += [f"<p class='note'>note: {html.escape(n)}</p>" for n in audit.notes]
    for check in audit.checks:
        parts.append(f"<section id='{check.id}'><h2>{html.escape(check.title)} (<code>{check.id}</code>)</h2>"
                     f"<p class='note'>Statistic: {html.escape(check.statistic)}. Flagged when: {html.escape(check.rule)}.</p>")
        if check.not_run:
            parts.append(f"<p>Not run: {html.escape(check.not_run)}.</p></section>")
            continue
        parts.append(f"<p class='note'>{html.escape(_cohort(check))}</p>")
        rows = "".join(f"<tr class='{'flagged' if f.flagged else ''}'><td>{html.escape(teams_words(f))}</td>"
                       f"<td>{_value(check, f)}</td><td>{_p(f)}</td><td>{'yes' if f.flagged else 'no'}</td>"
                       f"<td class='detail'>{html.escape(f.detail)}</td></tr>" for f in check.findings)
        parts.append("<table><thead><tr><th>teams</th><th>value</th><th>p (Holm)</th><th>flagged</th><th>detail</th></tr>"
                     f"</thead><tbody>{rows or '<tr><td colspan=5>nothing to report</td></tr>'}</tbody></table></section>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>fercomp audit — {html.escape(audit.split)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


def to_json(audit: Audit) -> str:
    return json.dumps(audit.to_dict(), indent=2) + "\n"


def write_audit(audit: Audit, formats: list[str], out_dir: Path) -> list[Path]:
    """audit-<split>.<ext> per format, each written atomically, readable by its owner alone (the final phase's)."""
    makers = {"md": to_markdown, "html": to_html, "json": to_json}
    written = []
    for fmt in formats:
        path = Path(out_dir) / f"audit-{audit.split}.{_SUFFIX[fmt]}"
        write_text(path, makers[fmt](audit), private=True)
        written.append(path)
    return written
