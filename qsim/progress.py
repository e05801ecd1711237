"""A progress bar of replications done, on stderr, shown only where a person is watching.

Not shown when stderr is not a terminal, when the JSON summary goes to stdout (``--json -``),
or under CI (the ``CI`` environment variable is set).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["replication_progress", "wanted"]


def wanted(
    json_to_stdout: bool,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> bool:
    """Whether to show progress: stderr is a terminal, stdout is not JSON, and not in CI."""
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    return not json_to_stdout and "CI" not in environ and stream.isatty()


@contextmanager
def replication_progress(
    total: int | None,
    enabled: bool,
    console: Console | None = None,
    description: str = "replications",
) -> Iterator[Callable[[int], None] | None]:
    """Yield a callback that advances the bar by one replication (None when not ``enabled``);
    ``description`` labels the bar (``qsim compare`` names the variant).

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
        columns += [TextColumn("left"), TimeRemainingColumn()]
    with Progress(
        *columns,
        console=console or Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda _replication: progress.advance(task)
