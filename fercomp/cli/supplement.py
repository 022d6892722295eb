"""`fercomp supplement PHOTOS`: the course's own labelled photos as a private FER-format supplement."""

from __future__ import annotations

from pathlib import Path

import typer


def supplement(
    photos: Path = typer.Argument(..., help="Folder of photos in class folders (angry/, happy/, …), or any layout with --labels."),
    out: Path = typer.Option(Path("data/supplement.csv"), help="The supplement to write (FER-format CSV)."),
    labels: Path = typer.Option(None, help="A CSV with columns photo,label (photo paths inside PHOTOS) instead of class folders."),
    fer: Path = typer.Option(None, help="FER-2013 to refuse duplicates of (default: [competition] data in fercomp.toml)."),
    report: Path = typer.Option(None, help="The report's path without suffix (default: OUT-report; writes .csv and .md)."),
) -> None:
    """Detect, crop and shrink each photo's face to 48×48 gray, label it from its folder (or --labels), refuse
    near-duplicates of FER-2013 images, and write the supplement and a report of every photo.

    Exit codes: 0 written; 2 a bad folder, labels file or FER-2013 path, or no face kept (the report says why).
    """
    from fercomp.config import load_config
    from fercomp.data.supplement import OUTCOMES, make_supplement
    from fercomp.errors import DataError
    from fercomp.render.terminal import console

    cfg = load_config()
    comp = cfg.competition
    fer_path = fer or Path(comp.data)
    built, written = make_supplement(photos, out, fer_path, labels, report)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    counts = built.counts()
    console.print(", ".join(f"{counts[o]} {o.replace('_', ' ')}" for o in OUTCOMES if counts[o] or o == "kept"),
                  highlight=False, soft_wrap=True)
    if not counts["kept"]:
        raise DataError(f"{photos}: no face kept from {len(built.rows)} photos; see {written[-1]}")
    named = bool(comp.private_supplement) and Path(comp.private_supplement) == out
    step = (f"{cfg.source}'s private_supplement already names {out}: the final phase scores it" if named else
            f"next: set private_supplement = \"{out}\" in fercomp.toml's [competition] table")
    console.print(f"{step} (keep the file out of the repository: its faces are evidence only while no one outside the "
                  "course has them)", highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    app.command()(supplement)
