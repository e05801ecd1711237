"""The progress bar: replications done, on stderr, only where a person is watching."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from qsim.progress import PaceRemaining, replication_progress, wanted


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("json_to_stdout", "stream", "environ", "expected"),
    [
        (False, Terminal(), {}, True),
        (False, io.StringIO(), {}, False),
        (True, Terminal(), {}, False),
        (False, Terminal(), {"CI": "true"}, False),
    ],
    ids=["terminal", "not a terminal", "json to stdout", "in CI"],
)
def test_progress_shows_only_on_a_terminal_without_json_to_stdout_and_outside_ci(
    json_to_stdout, stream, environ, expected
):
    assert wanted(json_to_stdout, stream, environ) is expected


def test_the_bar_counts_replications_done():
    """Advancing once per replication reaches N/N."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    with replication_progress(3, True, console) as advance:
        assert advance is not None
        for replication in (2, 0, 1):
            advance(replication)
    assert "3/3" in out.getvalue()


def test_a_bar_of_known_length_shows_the_time_left_and_one_of_unknown_length_does_not():
    """With a known total the bar estimates the time left; ``--precision`` (no total) cannot."""
    shown = {}
    for total in (4, None):
        out = io.StringIO()
        console = Console(file=out, force_terminal=True, width=100)
        with replication_progress(total, True, console) as advance:
            assert advance is not None
            advance(0)
        shown[total] = out.getvalue()
    assert "left" in shown[4] and "left" not in shown[None]


def test_a_bar_is_labelled_with_its_description():
    """A bar shows its label (``qsim compare`` names the variant running)."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    with replication_progress(2, True, console, description="fixed-16") as advance:
        assert advance is not None
        advance(0)
        advance(1)
    assert "fixed-16" in out.getvalue() and "2/2" in out.getvalue()


def test_a_capacity_bar_shows_the_points_done_of_the_points_expected_so_far():
    """A capacity study's total is only known as it goes: the bar shows the last plan told."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with replication_progress(10, True, console, description="capacity points") as bar:
        assert bar is not None
        bar.plan(3, 7)
        bar.plan(7, 7)
    assert "7/7" in out.getvalue()


@pytest.mark.parametrize(
    ("elapsed", "done", "total", "shown"),
    [(10.0, 2, 6, "0:00:20"), (90.0, 3, 43, "0:20:00"), (5.0, 0, 6, "-:--:--"),
     (5.0, 7, 7, "0:00:00"), (4000.0, 1, 2, "1:06:40")],
)  # fmt: skip
def test_the_time_left_is_the_pace_so_far_times_what_is_left(elapsed, done, total, shown):
    """10 s for 2 of 6 points: 4 left at 5 s each. Nothing done yet: no estimate."""
    from types import SimpleNamespace

    task = SimpleNamespace(elapsed=elapsed, completed=done, total=total)
    assert PaceRemaining().render(task).plain == shown


def test_without_progress_there_is_no_callback():
    with replication_progress(3, False) as advance:
        assert advance is None


def test_compare_shows_one_bar_over_the_replications_of_every_variant(monkeypatch):
    """Two variants of 2 and 3 replications: one bar of 5, relabelled with each variant as it
    runs, advanced once per replication."""
    from contextlib import contextmanager

    from conftest import scenario_from

    import qsim.compare
    from qsim.scenario.variants import Variant

    seen = {"labels": [], "advanced": 0}

    class Recorder:
        def __call__(self, _replication=0):
            seen["advanced"] += 1

        def describe(self, description):
            seen["labels"].append(description)

    @contextmanager
    def progress(total, enabled, console=None, description="replications"):
        seen["total"] = total
        yield Recorder() if enabled else None

    monkeypatch.setattr(qsim.compare, "replication_progress", progress)
    text = """
    name: tiny
    duration: 20s
    replications: {n}
    producers: [{{name: p, to: q, rate: 5/s}}]
    queues: [{{name: q}}]
    consumers: [{{name: c, queue: q, replicas: 1, service_time: 50ms}}]
    """
    variants = [Variant(f"r{n}", scenario_from(text.format(n=n))) for n in (2, 3)]
    qsim.compare.compare(variants, show_progress=True)
    assert seen == {"total": 5, "labels": ["r2", "r3"], "advanced": 5}
