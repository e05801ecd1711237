"""The live-against-simulated table: one row per figure, its difference, and a flag when the
two disagree beyond the stated band."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from qsim.report.console import format_duration, format_number, stdout_console

__all__ = ["live_table", "render_live"]


def _cell(kind: str, figure: str, value: float) -> str:
    if kind == "fraction":
        return f"{value:.1%}"
    return (
        format_duration(value) if figure.startswith(("latency", "wait")) else format_number(value)
    )


def _difference(row: dict[str, Any]) -> str:
    difference = row["difference"]
    if difference is None:
        return "-"
    if row["kind"] == "fraction":
        return f"{difference * 100:+.1f} pts"
    return f"{difference:+.1%}"


def live_table(result: dict[str, Any]) -> Table:
    """The side-by-side table of a :func:`qsim.live.run_live` result."""
    table = Table(
        title=f"{result['scenario']}: simulated vs live (time scale {result['time_scale']:g})",
        caption=f"agreement band: {result['band']['description']}",
    )
    ranges = any(row["one_run"] for row in result["comparison"])
    columns = ["queue", "figure", "simulated", *(["one run (95%)"] if ranges else []), "live"]
    for name in (*columns, "difference", ""):
        table.add_column(name, justify="left" if name in ("queue", "figure", "") else "right")
    for row in result["comparison"]:
        kind, figure = row["kind"], row["figure"]
        one_run = row["one_run"]
        span = [_span(kind, figure, one_run)] if ranges else []
        table.add_row(
            row["queue"], figure, _cell(kind, figure, row["simulated"]), *span,
            _cell(kind, figure, row["live"]), _difference(row),
            "ok" if row["agrees"] else "[bold red]OUTSIDE[/]",
        )  # fmt: skip
    return table


def _span(kind: str, figure: str, one_run: list[float] | None) -> str:
    if not one_run:
        return "-"
    low, high = (_cell(kind, figure, max(0.0, value)) for value in one_run)
    return f"{low} - {high}"


def render_live(result: dict[str, Any]) -> None:
    """Print the table, and how many figures fell outside the band."""
    console = stdout_console()
    console.print(live_table(result))
    outside, total = result["outside_band"], len(result["comparison"])
    console.print(
        f"{outside} of {total} figures outside the agreement band; "
        f"live run took {result['wall_s']:.1f}s of wall-clock time"
    )
