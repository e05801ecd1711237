"""The live-against-simulated table: one row per figure, its difference, and a flag when the
two disagree beyond the stated band.

Laid out to fit the terminal as run and compare are (:mod:`qsim.report.layout`): a table
wider than the terminal is split in column blocks or stacked rather than cut, and the band's
description, longer than the table, has a line of its own. The durations of a row share one
unit (``824 ms`` beside ``1.02 s`` reads ``0.824 s`` and ``1.02 s``).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from qsim.report.console import format_number, stdout_console
from qsim.report.figures import duration_text, duration_unit
from qsim.report.layout import clauses, fitted

__all__ = ["cell_text", "live_table", "one_run_text", "render_live"]


def _is_time(figure: str) -> bool:
    return figure.startswith(("latency", "wait"))


def _unit(row: dict[str, Any]) -> str | None:
    """The one unit a row of durations reads in (None for a row that is not durations)."""
    if not _is_time(row["figure"]):
        return None
    return duration_unit([row["simulated"], row["live"], *(row["one_run"] or [])])


def cell_text(row: dict[str, Any], value: float) -> str:
    """``value`` of ``row`` as the table shows it: a percentage for a fraction, a duration in
    the row's unit for a latency or wait, else a number."""
    if row["kind"] == "fraction":
        return f"{value:.1%}"
    if _is_time(row["figure"]):
        return duration_text(value, None, _unit(row))
    return format_number(value)


def one_run_text(row: dict[str, Any]) -> str:
    """The 95% range of one simulated run (``0.8 to 1.2 s``), ``-`` without replications."""
    if not row["one_run"]:
        return "-"
    low, high = (cell_text(row, max(0.0, value)) for value in row["one_run"])
    unit = _unit(row)
    if unit is not None:  # the unit once, at the end
        low = low.removesuffix(f" {unit}")
    return f"{low} to {high}"


def _difference(row: dict[str, Any]) -> str:
    difference = row["difference"]
    if difference is None:
        return "-"
    if row["kind"] == "fraction":
        return f"{difference * 100:+.1f} pts"
    return f"{difference:+.1%}"


def live_table(result: dict[str, Any]) -> Table:
    """The side-by-side table of a :func:`qsim.live.run_live` result; a queue is named on its
    first row only."""
    table = Table(
        title=f"{result['scenario']}: simulated vs live (time scale {result['time_scale']:g})",
        caption=f"agreement band: {result['band']['description']}",
        title_justify="left",
        caption_justify="left",
        show_edge=False,
    )
    ranges = any(row["one_run"] for row in result["comparison"])
    columns = ["queue", "figure", "simulated", *(["one run (95%)"] if ranges else []), "live"]
    for name in (*columns, "difference", "agrees"):
        table.add_column(name, justify="left" if name in ("queue", "figure") else "right")
    previous = None
    for row in result["comparison"]:
        span = [one_run_text(row)] if ranges else []
        table.add_row(
            row["queue"] if row["queue"] != previous else "", row["figure"],
            cell_text(row, row["simulated"]), *span, cell_text(row, row["live"]),
            _difference(row), "ok" if row["agrees"] else "[bold red]OUTSIDE[/]",
        )  # fmt: skip
        previous = row["queue"]
    return table


def render_live(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the table (laid out to fit the terminal), and how many figures fell outside the
    band."""
    console = console or stdout_console()
    for part in fitted(console, live_table(result)):
        console.print(part)
    outside, total = result["outside_band"], len(result["comparison"])
    parts = [
        f"{outside} of {total} figures outside the agreement band;",
        f"live run took {result['wall_s']:.1f} s of wall-clock time",
    ]
    for line in clauses(console, parts):
        console.print(line)
