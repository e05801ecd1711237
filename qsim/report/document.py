"""A report as plain data: sections of paragraphs, lists, tables, images and code.

Built once from the results (:mod:`qsim.report.review`), rendered by :mod:`qsim.report.html`
and :mod:`qsim.report.markdown`, so both say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Block",
    "Bullets",
    "Chart",
    "Code",
    "Document",
    "Image",
    "Paragraph",
    "Section",
    "Table",
    "Verdict",
    "Verdicts",
]


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list of plain-text items."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table: a header row, body rows (all text) and an optional note below it."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Image:
    """A plot written next to the report as ``name.png`` and ``name.svg``."""

    name: str
    title: str
    caption: str = ""


@dataclass(frozen=True)
class Code:
    """Text shown verbatim (a command)."""

    text: str


@dataclass(frozen=True)
class Chart:
    """An interactive chart: a plotly.js figure (``{"data", "layout"}``) for HTML, and for
    Markdown the plots written beside the report (``fallback``: PNG names) that show the same."""

    name: str
    title: str
    figure: dict[str, Any]
    caption: str = ""
    fallback: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """One answer: ``state`` (met, missed, undecided, no data, or info for a plain finding), a
    headline that answers, and the detail behind it (by how much, with its interval)."""

    state: str
    headline: str
    detail: str = ""


@dataclass(frozen=True)
class Verdicts:
    """The answers a page opens with, and the one paragraph that says why."""

    items: tuple[Verdict, ...]
    why: str = ""


Block = Paragraph | Bullets | Table | Image | Code | Chart | Verdicts


@dataclass(frozen=True)
class Section:
    """A titled part of the report."""

    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    """The whole report: a title that says what the page is (run review, comparison, capacity
    plan), a one-line subtitle and its sections."""

    title: str
    subtitle: str
    sections: tuple[Section, ...] = field(default_factory=tuple)
