"""Markdown and LaTeX tables through tabulate (`github`, `latex_booktabs`): tabulate aligns and escapes;
fercomp adds only bold (the best values), its few symbols in LaTeX, and captions. Every table fercomp
writes (leaderboard, ablation, report pack) comes through here."""

from __future__ import annotations

from tabulate import tabulate

_BOLD = ("\x01", "\x02")  # markers tabulate neither escapes nor pads for; replaced by \textbf{…} after
#: symbols fercomp prints that LaTeX needs spelled out, after tabulate has escaped the rest
_LATEX_SYMBOLS = {"⚑": r"$^\dagger$", "×": r"$\times$", "±": r"$\pm$", "Δ": r"$\Delta$", "—": "---", "→": r"$\to$",
                  "÷": r"$\div$", "−": r"$-$", "α": r"$\alpha$", "✓": r"$\checkmark$", "✗": r"$\times$"}  # ✓: amssymb
_ALIGN = {"l": "left", "r": "right", "c": "center"}


def _cells(rows: list[list[str]], bold: set[tuple[int, int]], open_close: tuple[str, str]) -> list[list[str]]:
    return [[f"{open_close[0]}{c}{open_close[1]}" if (i, j) in bold else str(c) for j, c in enumerate(row)]
            for i, row in enumerate(rows)]


def markdown(headers: list[str], rows: list[list[str]], bold: set[tuple[int, int]] = frozenset()) -> str:
    """A GitHub-flavoured pipe table; (row, column) pairs in `bold` are wrapped in **…**."""
    return tabulate(_cells(rows, bold, ("**", "**")), headers=headers, tablefmt="github", disable_numparse=True) + "\n"


def latex(headers: list[str], rows: list[list[str]], align: str, bold: set[tuple[int, int]] = frozenset()) -> str:
    """A booktabs tabular (`\\usepackage{booktabs}`), escaped by tabulate; bold cells in \\textbf{…}."""
    text = tabulate(_cells(rows, bold, _BOLD), headers=headers, tablefmt="latex_booktabs", disable_numparse=True,
                    colalign=[_ALIGN[a] for a in align])
    text = text.replace(_BOLD[0], r"\textbf{").replace(_BOLD[1], "}")
    for symbol, spelled in _LATEX_SYMBOLS.items():
        text = text.replace(symbol, spelled)
    return text + "\n"


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def escape_latex(text: str) -> str:
    """`text` (a study's or a team's name) safe in running LaTeX text, such as a caption."""
    return "".join(_LATEX_SPECIALS.get(c, c) for c in text)


def label_slug(name: str) -> str:
    """`name` as a LaTeX \\label key: letters, digits and hyphens."""
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "table"
