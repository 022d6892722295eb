"""Training progress where the user is looking: a rich bar in a terminal, tqdm's bar in a notebook (its
widget where ipywidgets is installed, else a text bar in the cell), and one line per epoch in both; output
that goes to a file or pipe gets the epoch lines alone (a bar there is noise)."""

from __future__ import annotations


def in_notebook() -> bool:
    """True inside a Jupyter kernel (notebook, lab, VS Code, Colab): rich's own test for it."""
    from rich.console import Console

    return Console().is_jupyter


class Progress:
    """A step bar and per-epoch lines; a disabled Progress prints nothing."""

    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self._rich = self._tqdm = None
        self._lines = enabled
        if not enabled:
            return
        from rich.console import Console

        if in_notebook():
            from tqdm.auto import tqdm

            self._tqdm = tqdm(total=total, initial=done, unit="step", leave=True)
        elif Console().is_terminal:
            from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

            self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(), transient=True)
            self._task = self._rich.add_task("training", total=total, completed=done)
            self._rich.start()

    def step(self, description: str) -> None:
        if self._rich:
            self._rich.update(self._task, advance=1, description=description)
        elif self._tqdm is not None:
            self._tqdm.set_description(description, refresh=False)
            self._tqdm.update(1)

    def line(self, text: str) -> None:
        if self._rich:
            self._rich.console.print(text, highlight=False)
        elif self._tqdm is not None:
            self._tqdm.write(text)
        elif self._lines:
            print(text, flush=True)

    def close(self) -> None:
        if self._rich:
            self._rich.stop()
        elif self._tqdm is not None:
            self._tqdm.close()
