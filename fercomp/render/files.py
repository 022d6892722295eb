"""Write the leaderboard in the asked formats, atomically, and say where each file went."""

from __future__ import annotations

from pathlib import Path

from fercomp.atomic import write_bytes, write_text
from fercomp.board import Leaderboard

FORMATS = ("md", "csv", "latex", "html", "json")
_SUFFIX = {"md": "md", "csv": "csv", "latex": "tex", "html": "html", "json": "json"}


def render(board: Leaderboard, fmt: str) -> str:
    from fercomp.render import html, text_formats

    makers = {"md": text_formats.to_markdown, "csv": text_formats.to_csv, "latex": text_formats.to_latex,
              "json": text_formats.to_json, "html": html.to_html}
    return makers[fmt](board)


def write_all(board: Leaderboard, formats: list[str], out_dir: Path, extra: dict[str, bytes] | None = None) -> list[Path]:
    """leaderboard-<split>.<ext> per format (html also writes the scatter plot as PNG), and `extra` files
    (name → bytes, e.g. a gradebook import) beside them. The final phase's are private (0600 files in a 0700 folder)."""
    from fercomp.atomic import private_folder
    from fercomp.render.plots import scatter

    private = board.phase == "final"
    if private:
        private_folder(out_dir)

    written = []
    for fmt in formats:
        path = Path(out_dir) / f"leaderboard-{board.split}.{_SUFFIX[fmt]}"
        write_text(path, render(board, fmt), private=private)
        written.append(path)
        if fmt == "html":
            png = Path(out_dir) / f"leaderboard-{board.split}.png"
            write_bytes(png, scatter(board, "png"), private=private)
            written.append(png)
    if board.grades:
        from fercomp.render.text_formats import to_grades_csv

        path = Path(out_dir) / f"grades-{board.split}.csv"
        write_text(path, to_grades_csv(board), private=private)
        written.append(path)
    for name, data in (extra or {}).items():
        write_bytes(Path(out_dir) / name, data, private=private)
        written.append(Path(out_dir) / name)
    return written
