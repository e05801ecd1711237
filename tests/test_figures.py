"""How figures read in every report (qsim.report.figures) and tables that fit a terminal
(qsim.report.layout)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.table import Table

from qsim.report.figures import (
    above_text,
    duration_text,
    duration_unit,
    figure_text,
    number_text,
    percent_text,
)
from qsim.report.layout import fits, fitted, prose


@pytest.mark.parametrize(
    ("seconds", "interval", "text"),
    [
        (0.0123, None, "12.3 ms"),
        (17.4, [9.1, 25.7], "17.4 ± 8.3 s"),  # one unit, at the end
        (0.824, [0.802, 0.846], "824 ± 22 ms"),
        (1234.0, None, "20.6 min"),
        (1.2, [-1.0, 3.4], "1.2 s (0 to 3.4 s)"),  # a duration is never negative
        (None, None, "-"),
    ],
)
def test_a_duration_carries_one_unit_shared_by_its_interval(seconds, interval, text):
    assert duration_text(seconds, interval) == text


@pytest.mark.parametrize(
    ("value", "interval", "text"),
    [
        (48017.0, [47550.0, 48484.0], "48,017 ± 467"),
        (295.0, [-755.0, 1345.0], "295 (0 to 1,345)"),  # a count cannot be negative
        (13.8, [13.68, 13.92], "13.8 ± 0.12"),
        (16.0, None, "16"),
    ],
)
def test_a_number_interval_is_clipped_at_zero(value, interval, text):
    assert number_text(value, interval) == text


def test_a_signed_number_keeps_its_whole_interval():
    assert number_text(1.0, [-2.0, 4.0], low=None) == "1 ± 3"


@pytest.mark.parametrize(
    ("share", "interval", "text"),
    [
        (0.603, None, "60.3%"),
        (0.9995, None, "99.95%"),  # not "100.0%": it is not 100%
        (0.9995, [0.9993, 0.9997], "99.95 ± 0.02%"),
        (1.0, None, "100%"),
        (0.99999, [0.99998, 1.00001], "99.999% (99.998% to 100%)"),  # never above 100%
        (0.517, [0.513, 0.521], "51.7 ± 0.4%"),
    ],
)
def test_a_fraction_reads_as_a_percentage_distinct_from_its_bounds(share, interval, text):
    assert percent_text(share, interval) == text


def test_a_row_of_durations_reads_in_one_unit():
    """The unit they share, else seconds; a row of zeros has none."""
    assert duration_unit([0.2, 0.5, None]) == "ms"
    assert duration_unit([0.824, 221.0]) == "s"
    assert duration_unit([0.0, None]) is None
    assert duration_text(0.824, [0.802, 0.846], "s") == "0.824 ± 0.022 s"
    assert duration_text(221.0, None, "s") == "221 s"


def test_a_backlog_that_never_crossed_its_level_reads_never_above():
    assert above_text(0.0, [0.0, 0.0]) == "never above"
    assert above_text(0.0) == "never above"
    assert above_text(20.0, [-66.0, 106.0]) == "20 s (0 to 106 s)"


def test_figure_text_reads_a_summary_path_and_its_ci95_mirror():
    summary = {"queues": {"q": {"latency_s": {"p99": 4.52}}},
               "ci95": {"queues": {"q": {"latency_s": {"p99": [4.31, 4.73]}}}}}  # fmt: skip
    assert figure_text(summary, ("queues", "q", "latency_s", "p99"), "duration") == (
        "4.52 ± 0.21 s"
    )


def _wide_table(columns: int, rows: int) -> Table:
    table = Table(title="wide", show_edge=False)
    table.add_column("queue")
    for c in range(columns):
        table.add_column(f"figure {c}", justify="right")
    for r in range(rows):
        table.add_row(f"q{r}", *(f"{123_456 + c:,} ± {r + 100:,}" for c in range(columns)))
    return table


def _printed(table: Table, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    for part in fitted(console, table):
        assert fits(console, part)
        console.print(part)
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("columns", "rows"), [(8, 1), (8, 12), (3, 40)])
@pytest.mark.parametrize("width", [80, 120])
def test_a_table_too_wide_is_laid_out_again_with_every_number_whole(columns, rows, width):
    """Transposed, in column blocks or stacked: every cell appears whole on one line."""
    text = _printed(_wide_table(columns, rows), width)
    assert max(len(line) for line in text.splitlines()) <= width
    for r in range(rows):
        for c in range(columns):
            assert f"{123_456 + c:,} ± {r + 100:,}" in text
    assert "…" not in text


def test_a_table_that_fits_is_left_as_built():
    table = _wide_table(2, 2)
    console = Console(width=200, file=io.StringIO())
    assert fitted(console, table) == [table]


def test_a_short_wide_table_is_transposed():
    text = _printed(_wide_table(8, 1), 80)
    assert re.search(r"figure 7\s+│\s+123,463 ± 100", text)


def _grouped_table(variants: int) -> Table:
    """A comparison's shape: a group label (blank under its first row), a figure label, and a
    column per variant with long figures."""
    table = Table(title="grouped", show_edge=False)
    table.add_column("")
    table.add_column("figure")
    for v in range(variants):
        table.add_column(f"variant-{v}", justify="right")
    for group in ("queue orders.dead-letter", "pool delivery-service"):
        for r, figure in enumerate(("longest above 1,000 ready", "latency p99")):
            cells = (f"{100 * v + r}.5 s (0 to {200 + v} s)" for v in range(variants))
            table.add_row(group if r == 0 else "", figure, *cells)
    return table


def test_two_label_columns_fold_into_one_so_more_variants_share_a_block():
    """Folded, the labels take one column (the group on a row of its own, its figures indented
    under it): at 80 columns two variants share each block where side by side labels left room
    for one; every cell is whole."""
    text = _printed(_grouped_table(4), 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in text
    assert re.search(r"^ queue orders\.dead-letter\s+│\s+│", text, re.M)
    assert re.search(r"^   longest above 1,000 ready\s+│\s+0\.5 s \(0 to 200 s\) │\s+"
                     r"100\.5 s \(0 to 201 s\)", text, re.M)  # fmt: skip
    assert sum("variant-" in line for line in lines) == 2  # two blocks' headers


def test_a_line_of_figures_breaks_only_between_its_clauses():
    """At 30 columns a line of figures breaks after a comma, never between a figure and its
    unit or name ("600" / "ms", "cv" / "0.8"); continuation lines are indented."""
    console = Console(width=30, file=io.StringIO())
    text = "Theory: service mean 600 ms, cv 0.8, 27/s at 1x (arrival cv^2 1)."
    assert [line.plain for line in prose(console, text)] == [
        "Theory: service mean 600 ms,",
        "  cv 0.8,",
        "  27/s at 1x (arrival cv^2 1).",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1.82e-06, "0.00000182"), (-2.5e-05, "-0.000025"), (0.00179, "0.00179"), (1e-15, "0"),
     (0.0, "0"), (123_456.0, "123,456"), (0.5, "0.5")],
)  # fmt: skip
def test_a_tiny_figure_is_printed_in_decimals_not_e_notation(value, shown):
    """A mean backlog of 1.82e-06 messages reads ``0.00000182``, as every other figure reads in
    plain decimals; below 1e-12 it rounds to 0."""
    assert number_text(value, None, low=None) == shown
