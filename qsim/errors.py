"""Errors qsim reports to users.

::

    QsimError                 anything qsim explains in one line (CLI exit status 2)
    └── ScenarioError         bad scenario input, located by file, line and key path
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = ["QsimError", "ScenarioError", "did_you_mean", "format_path", "known_hint", "one_line"]


class QsimError(Exception):
    """An error with a one-line explanation for the user."""


def did_you_mean(word: str, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to an unknown ``word``, or ""."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def known_hint(word: str, known: Sequence[str]) -> str:
    """:func:`did_you_mean`, then ``; known: a, b`` (every name it could have been)."""
    return f"{did_you_mean(word, known)}; known: {', '.join(known) or 'none'}"


def format_path(path: Sequence[str | int]) -> str:
    """``('consumers', 0, 'prefetch')`` -> ``consumers[0].prefetch``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class ScenarioError(QsimError):
    """A scenario file that cannot be used: where it is wrong and what was expected."""

    def __init__(
        self, file: str, line: int | None, path: Sequence[str | int], message: str
    ) -> None:
        self.file = file
        self.line = line
        self.path = tuple(path)
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = format_path(self.path)
        text = f"{where}: {key}: {self.message}" if key else f"{where}: {self.message}"
        return one_line(text)


def one_line(text: str) -> str:
    """``text`` with newlines and other unprintable characters escaped (``\\n``), so an
    error stays one line whatever a file's keys and values hold."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
