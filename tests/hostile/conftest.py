"""Collects each hostile case's outcome and prints the case → outcome table after the run."""

OUTCOMES: dict[str, tuple[str, str, str]] = {}


def pytest_terminal_summary(terminalreporter):
    if not OUTCOMES:
        return
    from tabulate import tabulate

    rows = [(case, *OUTCOMES[case]) for case in sorted(OUTCOMES)]
    terminalreporter.write_line("")
    terminalreporter.write_line("hostile submissions: every case contained")
    terminalreporter.write_line(tabulate(rows, headers=["case", "outcome", "reason", "contained"], tablefmt="github"))
