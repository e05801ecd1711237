"""A progress bar of work done (replications of a run, of every variant of a comparison, the
points of a capacity study, counts x loads), with the time left, on stderr, shown only where a
person is watching.

Not shown when stderr is not a terminal, when the JSON summary goes to stdout (``--json -``),
or under CI (the ``CI`` environment variable is set).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

__all__ = ["Bar", "PaceRemaining", "replication_progress", "wanted"]


def wanted(
    json_to_stdout: bool,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> bool:
    """Whether to show progress: stderr is a terminal, stdout is not JSON, and not in CI."""
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    return not json_to_stdout and "CI" not in environ and stream.isatty()


class PaceRemaining(ProgressColumn):
    """The time left at the pace so far: time elapsed per unit done, times the units left.
    (rich's own column forgets its pace whenever the total changes, as a capacity study's
    total does while its searches narrow down.)"""

    def render(self, task: Any) -> Text:
        """``0:01:23``, or ``-:--:--`` until something is done."""
        elapsed, done, total = task.elapsed, task.completed, task.total
        if not elapsed or not done or total is None:
            return Text("-:--:--", style="progress.remaining")
        left = round(elapsed / done * max(total - done, 0))
        return Text(f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}",
                    style="progress.remaining")  # fmt: skip


class Bar:
    """One bar: called with a replication index it advances by one; :meth:`describe` relabels
    it (``qsim compare`` names the variant running, ``qsim capacity`` the point tried)."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress, self._task = progress, task

    def __call__(self, _replication: int = 0) -> None:
        self._progress.advance(self._task)

    def plan(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` (work whose total is only estimated as it goes: the
        points of a capacity search); the time left is the pace so far times what is left."""
        self._progress.update(self._task, completed=done, total=max(total, done))

    def describe(self, description: str) -> None:
        """Label the bar ``description`` from now on."""
        self._progress.update(self._task, description=description)


@contextmanager
def replication_progress(
    total: int | None,
    enabled: bool,
    console: Console | None = None,
    description: str = "replications",
) -> Iterator[Bar | None]:
    """Yield a :class:`Bar` that advances by one replication when called (None when not
    ``enabled``); ``description`` labels the bar (``qsim compare`` names the variant running).

    ``total`` None means not known in advance (``--precision`` decides when to stop): the bar
    then pulses and counts ``n/?``; otherwise it also shows the time left (from the pace so far).
    The bar is transient: it disappears when the work is done,
    leaving the report alone.
    """
    if not enabled:
        yield None
        return
    columns: list[ProgressColumn] = [
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
    ]  # fmt: skip
    if total is not None:  # the time left, from the pace of the replications done so far
        columns += [TextColumn("left"), PaceRemaining()]
    with Progress(
        *columns,
        console=console or Console(stderr=True),
        transient=True,
    ) as progress:
        yield Bar(progress, progress.add_task(description, total=total))
