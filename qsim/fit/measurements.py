"""Reading one column of measurements from a CSV file, with errors that name file and line.

A file holds one column, or several with ``--column NAME`` (a header name, or a 1-based column
number). A first row that does not parse is a header; blank lines and lines starting with ``#``
are skipped. Each value keeps the line it came from, so later checks can point at it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from qsim.errors import QsimError, one_line
from qsim.files import input_problem

__all__ = ["Column", "read_column"]

T = TypeVar("T")
Row = tuple[int, list[str]]


@dataclass(frozen=True)
class Column:
    """Values of one CSV column, each with its line number; ``first`` if it is column 1."""

    path: Path
    values: tuple[float, ...]
    lines: tuple[int, ...]
    first: bool

    def where(self, index: int) -> str:
        """``file:line`` of value ``index``, for error messages."""
        return f"{self.path}:{self.lines[index]}"


def _rows(path: Path) -> list[Row]:
    """Non-blank, non-comment rows with their line numbers; unreadable files are QsimErrors."""
    problem = input_problem(path)
    if problem is not None:
        raise QsimError(one_line(f"cannot read {path}: {problem}"))
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # a BOM is not data
            reader = csv.reader(handle)
            return [(reader.line_num, row) for row in reader if _is_data(row)]
    except OSError as exc:
        raise QsimError(one_line(f"cannot read {path}: {exc.strerror}")) from None
    except UnicodeDecodeError as exc:
        raise QsimError(
            one_line(f"cannot read {path}: not UTF-8 text (byte {exc.start})")
        ) from None
    except csv.Error as exc:
        raise QsimError(one_line(f"{path}: not a CSV file: {exc}")) from None


def _is_data(row: list[str]) -> bool:
    return any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")


def _parses(parse: Callable[[str], T], cell: str) -> bool:
    try:
        parse(cell)
    except ValueError:
        return False
    return True


def _column_index(path: Path, names: list[str], column: str | None) -> int:
    """Which cell of each row to read, from the first row's cells ``names``."""
    if column is None:
        if len(names) > 1:
            raise QsimError(
                one_line(
                    f"{path}: {len(names)} columns ({', '.join(names)}); choose one with --column"
                )
            )
        return 0
    if column in names:
        return names.index(column)
    if column.isdigit() and 1 <= int(column) <= len(names):
        return int(column) - 1
    raise QsimError(one_line(f"{path}: no column {column!r} (first row: {', '.join(names)})"))


def _cells(path: Path, rows: list[Row], index: int) -> Iterator[tuple[int, str]]:
    for line, row in rows:
        if index >= len(row) or not row[index].strip():
            raise QsimError(f"{path}:{line}: no value in column {index + 1}")
        yield line, row[index].strip()


def read_column(path: Path, column: str | None, parse: Callable[[str], float], what: str) -> Column:
    """The ``column`` of ``path`` as numbers (``parse`` raises ValueError on a bad cell).

    ``what`` names one value in messages (``a duration``). Errors: an unreadable file, no
    values at all, an unknown column, a cell that does not parse (with its line)."""
    rows = _rows(path)
    if not rows:
        raise QsimError(one_line(f"{path}: no values found (expected {what} per line)"))
    first_line, first = rows[0]
    index = _column_index(path, [cell.strip() for cell in first], column)
    header = index < len(first) and not _parses(parse, first[index].strip())
    data = rows[1:] if header else rows
    if not data:
        raise QsimError(one_line(f"{path}: no values found below the header (line {first_line})"))
    values: list[float] = []
    lines: list[int] = []
    for line, cell in _cells(path, data, index):
        try:
            values.append(parse(cell))
        except ValueError:
            raise QsimError(one_line(f"{path}:{line}: expected {what}, got {cell!r}")) from None
        lines.append(line)
        if not math.isfinite(values[-1]):
            raise QsimError(one_line(f"{path}:{line}: expected {what}, got {cell!r}"))
    return Column(path, tuple(values), tuple(lines), first=index == 0)
