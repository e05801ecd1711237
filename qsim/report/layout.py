"""Tables that fit the terminal: a number is never cut or wrapped to fit a narrow one.

A table wider than the console is laid out again from its own cells, the first of these that
fits the console's width:

1. as built;
2. transposed (each row becomes a column), when it has more figure columns than rows;
3. with two or more label columns, folded into one: a group's name (``queue orders``) on a
   row of its own, its rows' last labels indented under it; as it is, else in column blocks;
4. in column blocks: the label columns and as many figure columns as fit, then the next block
   below it (a comparison of many variants keeps its rows aligned by figure);
5. stacked: one line per cell (``label | figure | value``), which fits any sensible width.

Label columns are the table's leading left-justified columns (a queue, a pool, a figure name);
the others hold figures. A title (or caption) wider than the table laid out is printed on a line
of its own above (below) it, so it wraps only at the console's edge, not at the table's (a
transposed table is often narrower than its title). Piped or redirected output has no terminal
to fit: it is written at full width (:func:`qsim.report.console.stdout_console`).

Lines of prose that carry figures (``mean 283 ms, cv 1, max 1.43 s``) are broken only between
their clauses (:func:`clauses`, :func:`prose`), so a figure never stands on one line and its
unit or name on the next.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.style import StyleType
from rich.table import Column, Table
from rich.text import Text, TextType

__all__ = ["clauses", "fits", "fitted", "prose"]

UNBOUNDED = 10_000
"""Columns a table is measured in: wider than any table, so the measure is its natural width."""


def _width(console: Console, renderable: RenderableType) -> int:
    """The natural width of ``renderable``: what it takes with nothing wrapped."""
    unbounded = console.options.update_width(UNBOUNDED)  # rich clips a measure to the width
    return Measurement.get(console, unbounded, renderable).maximum


def fits(console: Console, renderable: RenderableType) -> bool:
    """Whether ``renderable`` shows at its natural width (nothing wrapped) on ``console``."""
    return _width(console, renderable) <= console.width


def _labels(table: Table) -> int:
    """How many leading columns name the row rather than hold figures (at least one)."""
    count = 0
    for column in table.columns:
        if column.justify not in ("left", "default"):
            break
        count += 1
    return max(1, min(count, len(table.columns) - 1))


def _cells(column: Column) -> list[RenderableType]:
    return list(column.cells)


def _rows(table: Table) -> list[list[RenderableType]]:
    columns = [_cells(column) for column in table.columns]
    return [list(row) for row in zip(*columns, strict=True)]


def _row_names(table: Table, labels: int) -> list[str]:
    """A name per row from its label cells, a blank label taking the row above's (``queue
    orders`` then ``wait`` under it reads ``queue orders wait``)."""
    names, above = [], [""] * labels
    for row in _rows(table):
        cells = [str(cell) for cell in row[:labels]]
        above = [cell or (above[i] if all(not c for c in cells[:i]) else "")
                 for i, cell in enumerate(cells)]  # fmt: skip
        names.append(" ".join(part for part in above if part))
    return names


def _like(table: Table, title: str | None = None) -> Table:
    """An empty table styled as ``table``."""
    return Table(
        title=table.title if title is None else title,
        caption=table.caption,
        title_justify=table.title_justify,
        caption_justify=table.caption_justify,
        show_edge=table.show_edge,
        box=table.box,
    )


def _transposed(table: Table) -> Table:
    labels = _labels(table)
    out = _like(table)
    out.add_column("")
    names = _row_names(table, labels)
    for name in names:
        out.add_column(name, justify="right", no_wrap=True)
    rows = _rows(table)
    for index, column in enumerate(table.columns[labels:], start=labels):
        out.add_row(str(column.header), *(row[index] for row in rows))
    return out


def _block(table: Table, labels: int, columns: Sequence[int], title: str | None) -> Table:
    out = _like(table, title)
    for index in (*range(labels), *columns):
        source = table.columns[index]
        out.add_column(source.header, justify=source.justify, no_wrap=index >= labels)
    for row in _rows(table):
        out.add_row(*row[:labels], *(row[i] for i in columns))
    return out


def _blocks(console: Console, table: Table) -> list[Table] | None:
    """Column blocks that each fit, or None when not even one figure column does."""
    labels = _labels(table)
    blocks: list[Table] = []
    current: list[int] = []
    for index in range(labels, len(table.columns)):
        trial = _block(table, labels, [*current, index], "" if blocks else None)
        if fits(console, trial):
            current.append(index)
            continue
        if not current:
            return None
        blocks.append(_block(table, labels, current, "" if blocks else None))
        current = [index]
        if not fits(console, _block(table, labels, current, "")):
            return None
    blocks.append(_block(table, labels, current, "" if blocks else None))
    for block in blocks[:-1]:
        block.caption = None  # the caption follows the last block
    return blocks


def _folded(table: Table, labels: int) -> Table:
    """``table`` with its label columns folded into one: each group's name on a row of its own
    (blank figures), the last label of each row indented under it."""
    out = _like(table)
    out.add_column(" / ".join(str(c.header) for c in table.columns[:labels] if str(c.header)))
    for source in table.columns[labels:]:
        out.add_column(source.header, justify=source.justify, no_wrap=True)
    figures = len(table.columns) - labels
    for row in _rows(table):
        group = " ".join(str(cell) for cell in row[: labels - 1] if str(cell))
        if group:
            out.add_row(group, *[""] * figures)
        out.add_row(f"  {row[labels - 1]}", *row[labels:])
    return out


def _stacked(table: Table) -> Table:
    labels = _labels(table)
    out = _like(table)
    out.add_column("")
    out.add_column("figure")
    out.add_column("value", justify="right", no_wrap=True)
    names = _row_names(table, labels)
    for name, row in zip(names, _rows(table), strict=True):
        for index, column in enumerate(table.columns[labels:], start=labels):
            out.add_row(name if index == labels else "", str(column.header), row[index])
    return out


def _layouts(console: Console, table: Table) -> Iterator[list[Table]]:
    yield [table]
    labels = _labels(table)
    if len(table.columns) - labels > table.row_count:
        yield [_transposed(table)]
    if labels > 1:
        folded = _folded(table, labels)
        yield [folded]
        blocks = _blocks(console, folded)
        if blocks is not None:
            yield blocks
    blocks = _blocks(console, table)
    if blocks is not None:
        yield blocks
    yield [_stacked(table)]


def _line(text: TextType, style: StyleType) -> Text:
    return Text(text, style=style) if isinstance(text, str) else text.copy()


def _titled(console: Console, table: Table) -> list[RenderableType]:
    """``table``, its title (caption) moved to a line above (below) it when wider than it."""
    width = min(_width(console, table), console.width)
    title, caption = table.title, table.caption
    wide_title = title is not None and cell_len(str(title)) > width
    wide_caption = caption is not None and cell_len(str(caption)) > width
    if not (wide_title or wide_caption):
        return [table]
    bare = copy.copy(table)  # the caller's table keeps its title
    parts: list[RenderableType] = [bare]
    if wide_title and title is not None:
        bare.title = None
        parts.insert(0, _line(title, table.title_style or "table.title"))
    if wide_caption and caption is not None:
        bare.caption = None
        parts.append(_line(caption, table.caption_style or "table.caption"))
    return parts


def fitted(console: Console, renderable: RenderableType) -> list[RenderableType]:
    """``renderable`` laid out to fit ``console`` (a table possibly as several, a title wider
    than its table on a line of its own); anything but a table as it is."""
    if not isinstance(renderable, Table) or not renderable.columns:
        return [renderable]
    layout: list[Table] = []
    for layout in _layouts(console, renderable):
        if all(fits(console, part) for part in layout):
            break
    return [piece for part in layout for piece in _titled(console, part)]


def clauses(console: Console, parts: Sequence[TextType], indent: str = "  ") -> list[Text]:
    """``parts`` joined by spaces into lines of at most the console's width, broken only
    between parts (each part carries its own punctuation: ``["mean 283 ms,", "cv 1"]``);
    lines after the first start with ``indent``. A part wider than a line has one of its own,
    and wraps as prose there."""
    lines: list[Text] = []
    current: Text | None = None
    for part in parts:
        piece = Text(part) if isinstance(part, str) else part
        if current is None:
            current = piece.copy()
        elif cell_len(current.plain) + 1 + cell_len(piece.plain) <= console.width:
            current.append(" ").append_text(piece)
        else:
            lines.append(current)
            current = Text(indent).append_text(piece)
    if current is not None:
        lines.append(current)
    return lines


def prose(console: Console, text: str) -> list[Text]:
    """A line of prose carrying figures (``service mean 600 ms, cv 0.8``), broken only after a
    comma, a semicolon or a full stop (:func:`clauses`); continuation lines are indented two
    spaces deeper than the line."""
    indent = " " * (len(text) - len(text.lstrip(" ")) + 2)
    return clauses(console, re.split(r"(?<=[,;.]) ", text), indent)
