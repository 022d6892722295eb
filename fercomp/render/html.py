"""A self-contained leaderboard page: inline CSS, a sortable table (inline JS) and an inline SVG plot."""

from __future__ import annotations

import html

from fercomp.board import Leaderboard
from fercomp.render.plots import scatter
from fercomp.render.table import columns, header, rows
from fercomp.render.text_formats import explanation

# A full final board has 17 columns: a compact font, headers and long names that may wrap, and statuses in a
# bounded column keep it inside a 1400-pixel window (tests/test_html_browser.py measures it); a board wider
# still scrolls inside its own box, never the page.
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}.board{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 6px;border-bottom:1px solid #ddd;text-align:right}
th{cursor:pointer;background:#f4f4f4;vertical-align:bottom}td.team,td.status{overflow-wrap:anywhere}
td.team,th.team,td.status,th.status{text-align:left}td.team{min-width:8em}td.status{min-width:14em;max-width:24em}
tr.baseline{background:#fff4e5;font-style:italic}.note{color:#555;max-width:60em}"""

_SORT = """document.querySelectorAll('th').forEach((th,i)=>th.addEventListener('click',()=>{
const body=th.closest('table').tBodies[0];const rows=[...body.rows];const asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
const key=r=>{const t=r.cells[i].innerText.replace('⚑','').trim();const n=parseFloat(t);return isNaN(n)?t:n};
rows.sort((a,b)=>{const x=key(a),y=key(b);return (x>y?1:x<y?-1:0)*(asc?1:-1)});rows.forEach(r=>body.appendChild(r));}));"""


def _cell(column: str, text: str) -> str:
    """Escaped text; the sandbox layers (jail+sc+ns+…) may break after a + rather than inside a name."""
    text = html.escape(text)
    return text.replace("+", "+<wbr>") if column == "sandbox" else text


def to_html(board: Leaderboard) -> str:
    cols = columns(board)
    css = {c: f' class="{c}"' if c in ("team", "status", "sandbox") else "" for c in cols}
    head = "".join(f"<th{css[c]}>{html.escape(header(board, c))}</th>" for c in cols)
    body = []
    for row in rows(board):
        cls = ' class="baseline"' if row["status"] == "baseline" else ""
        body.append(f"<tr{cls}>" + "".join(f"<td{css[c]}>{_cell(c, row[c])}</td>" for c in cols) + "</tr>")
    svg = scatter(board, "svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in board.notes)
    notes += "".join(f"<li>refused: {html.escape(r)}</li>" for r in board.refused)
    title = f"{board.phase} phase — {board.split}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>fercomp leaderboard — {html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>Leaderboard — {html.escape(title)}</h1>"
            f"<div class='board'><table id='leaderboard'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
            f"<p class='note'>{html.escape(explanation(board))}</p><ul class='note'>{notes}</ul>"
            f"<div id='plot'>{svg}</div><script>{_SORT}</script></body></html>\n")
