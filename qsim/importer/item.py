"""What the importer builds: scenario list items whose values each may carry a note."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Item", "Section"]


@dataclass
class Item:
    """One list item of a scenario section (a queue, exchange, producer or pool): its keys in
    the order written, and a note (a YAML comment) on each value that was guessed or derived."""

    fields: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def put(self, key: str, value: Any, note: str | None = None) -> None:
        """Set ``key`` to ``value``, with ``note`` as its comment."""
        self.fields[key] = value
        if note:
            self.notes[key] = note


@dataclass
class Section:
    """The items of one section, and notes on what could not be imported into it."""

    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
