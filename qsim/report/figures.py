"""How a figure reads, in every report (terminal, HTML, Markdown): one module for all of them.

- One unit per figure, written once at the end and shared by its interval: ``17.4 ± 8.3 s``,
  ``12.3 ms``, ``48,017 ± 467``; one unit per row of durations (:func:`duration_unit`).
- Fractions as percentages, with enough decimals to tell them from 0% and 100%:
  ``60.3%``, ``99.95 ± 0.02%``.
- An interval is clipped to what the figure can be (a count, a duration or a backlog is never
  negative, a fraction never above 100%); a clipped interval shows its ends instead of a
  symmetric half-width: ``295 (0 to 1,345)``. Symmetric ``±`` means the 95% interval was not
  clipped. :data:`INTERVAL_NOTE` says so in a legend.
- One name per figure: ``drain_time_s`` reads ``longest above N ready`` everywhere
  (:func:`above_label`; JSON keys never change, only the label a person reads).

Functions take the figure and its 95% interval as the summary holds it (``ci95``: a
``[low, high]`` list, or None); :func:`figure_text` looks the pair up at a summary path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from qsim.summary import figure_at

__all__ = [
    "INTERVAL_NOTE",
    "KINDS",
    "above_label",
    "above_text",
    "duration_text",
    "duration_unit",
    "figure_text",
    "format_duration",
    "format_number",
    "format_span",
    "load_text",
    "number_text",
    "percent_text",
    "scaled_duration",
]

Interval = list[float] | tuple[float, float] | None

INTERVAL_NOTE = (
    "± is the half-width of the 95% confidence interval over replications; (a to b): that "
    "interval clipped to what the figure can be (never below 0, a share never above 100%)."
)
"""The legend of every table that shows intervals."""

DURATION_UNITS = (  # below this many seconds, show in this unit
    (1.0, 1e-3, "ms"),
    (100.0, 1.0, "s"),
    (6000.0, 60.0, "min"),
    (math.inf, 3600.0, "h"),
)


MAX_DECIMALS = 12
"""The most decimals a figure is printed with."""


def _significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, thousands separated, never in e-notation
    (``0.0000043``; at most :data:`MAX_DECIMALS` decimals, so a value below 1e-12 reads 0)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = min(digits - 1 - math.floor(math.log10(abs(value))), MAX_DECIMALS)
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _half(half: float) -> str:
    """A half-width: whole above 10, else two significant digits."""
    return f"{half:,.0f}" if abs(half) >= 10 else _significant(half, 2)


def _ends(
    value: float, interval: Interval, low: float | None, high: float | None
) -> tuple[float, float, bool] | None:
    """The interval's ends clipped to ``[low, high]`` and whether clipping changed them; None
    without an interval or with a zero-width one."""
    if interval is None or interval[0] is None or interval[1] is None:
        return None
    start, end = float(interval[0]), float(interval[1])
    if end - start <= 0:
        return None
    clipped_start = start if low is None else max(start, low)
    clipped_end = end if high is None else min(end, high)
    return clipped_start, clipped_end, (clipped_start, clipped_end) != (start, end)


UNIT_SCALES = {unit: scale for _, scale, unit in DURATION_UNITS}
"""Seconds per unit of each duration unit."""


def scaled_duration(seconds: float) -> tuple[float, str]:
    """The scale (seconds per unit) and unit a duration reads in: ``(1e-3, "ms")``."""
    return next((scale, unit) for below, scale, unit in DURATION_UNITS if abs(seconds) < below)


def duration_unit(values: Iterable[float | None]) -> str | None:
    """The one unit a row of durations reads in: the unit they all share, else seconds (a
    row of ``824 ms`` and ``3.68 min`` reads ``0.824 s`` and ``221 s``); None when none is
    above zero."""
    units = {scaled_duration(value)[1] for value in values if value}
    if not units:
        return None
    return units.pop() if len(units) == 1 else "s"


def duration_text(seconds: float | None, interval: Interval = None, unit: str | None = None) -> str:
    """``0.0123`` -> ``12.3 ms``; with an interval ``17.4 ± 8.3 s`` (one unit, the value's or
    ``unit``, one of ms, s, min, h); clipped at 0: ``1.2 s (0 to 3.4 s)``; None -> ``-``."""
    if seconds is None:
        return "-"
    scale, unit = (UNIT_SCALES[unit], unit) if unit else scaled_duration(seconds)
    text = _significant(seconds / scale)
    ends = _ends(seconds, interval, 0.0, None)
    if ends is None:
        return f"{text} {unit}"
    start, end, clipped = ends
    if clipped:
        ends_text = f"{_significant(start / scale)} to {_significant(end / scale)}"
        return f"{text} {unit} ({ends_text} {unit})"
    return f"{text} ± {_half((end - start) / 2 / scale)} {unit}"


def number_text(value: float | None, interval: Interval = None, low: float | None = 0.0) -> str:
    """Counts thousands-separated, other figures to 3 significant digits, with the interval's
    half-width (``48,017 ± 467``) or, clipped at ``low`` (None: a figure that may be negative),
    its ends (``295 (0 to 1,345)``)."""
    if value is None:
        return "-"
    text = _significant(value)
    ends = _ends(value, interval, low, None)
    if ends is None:
        return text
    start, end, clipped = ends
    if clipped:
        return f"{text} ({_significant(start)} to {_significant(end)})"
    return f"{text} ± {_half((end - start) / 2)}"


def _decimals(*shares: float) -> int:
    """Decimals of a percentage: one, more while a share would read as 0% or 100% without
    being it, or while a half-width would read as 0 (at most four)."""
    for decimals in range(1, 4):
        if all(_distinct(share, decimals) for share in shares):
            return decimals
    return 4


def _distinct(share: float, decimals: int) -> bool:
    shown = round(share * 100, decimals)
    return (shown not in (0.0, 100.0) or share in (0.0, 1.0)) and (shown != 0 or share == 0)


def percent_text(share: float | None, interval: Interval = None) -> str:
    """A fraction as a percentage: ``60.3%``, ``99.95 ± 0.02%``, clipped to 0..100%:
    ``99.99% (99.96% to 100%)``; None -> ``-``."""
    if share is None:
        return "-"
    ends = _ends(share, interval, 0.0, 1.0)
    if ends is None:
        return f"{_share(share, _decimals(share))}%"
    start, end, clipped = ends
    if clipped:
        decimals = _decimals(share, start, end)
        return (
            f"{_share(share, decimals)}% ({_share(start, decimals)}% to {_share(end, decimals)}%)"
        )
    half = (end - start) / 2
    decimals = _decimals(share, half)
    return f"{_share(share, decimals)} ± {half * 100:.{decimals}f}%"


def _share(share: float, decimals: int) -> str:
    """A share in percent to ``decimals``; exactly 0% and 100% without decimals."""
    return f"{share * 100:g}" if share in (0.0, 1.0) else f"{share * 100:.{decimals}f}"


def above_text(seconds: float | None, interval: Interval = None, unit: str | None = None) -> str:
    """The longest stretch a backlog stayed above a level: ``never above`` when it never
    crossed it in any replication (0 s with no interval), else a duration (in ``unit``)."""
    if seconds == 0 and _ends(0.0, interval, None, None) is None:
        return "never above"
    return duration_text(seconds, interval, unit)


def load_text(load: float) -> str:
    """A load multiplier as people write it: ``1.5x``, ``1x``, ``0.71x`` (from a bisection)."""
    return f"{round(load, 2):g}x" if load >= 0.1 else f"{load:.2g}x"


def above_label(level: float) -> str:
    """The one name of ``drain_time_s`` (the longest stretch above the SLO's backlog level)."""
    return f"longest above {number_text(level)} ready"


KINDS: dict[str, Callable[[Any, Interval], str]] = {
    "duration": duration_text,
    "number": number_text,
    "percent": percent_text,
    "above": above_text,
}
"""How each kind of figure reads: a registry, looked up by name."""


def format_duration(seconds: float | None, half: float | None = None) -> str:
    """:func:`duration_text` from a half-width instead of an interval (``12.3 ± 0.41 ms``)."""
    return duration_text(seconds, _around(seconds, half))


def format_number(value: float | None, half: float | None = None) -> str:
    """:func:`number_text` from a half-width instead of an interval (``48,017 ± 467``)."""
    return number_text(value, _around(value, half))


def _around(value: float | None, half: float | None) -> Interval:
    return None if value is None or not half else (value - half, value + half)


def format_span(seconds: float) -> str:
    """A run length for people: ``4h``, ``1h30m``, ``33m20s``, ``45s``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"


UNIT_KINDS: dict[str, Callable[[Any, Interval, str | None], str]] = {
    "duration": duration_text,
    "above": above_text,
}
"""The kinds of figure that read in a unit a row may choose (:func:`duration_unit`)."""


def figure_text(
    summary: dict[str, Any], path: tuple[str, ...], kind: str = "number", unit: str | None = None
) -> str:
    """The figure at ``path`` of a run summary with its 95% interval (``ci95`` mirror), read as
    ``kind`` (one of :data:`KINDS`), a duration in ``unit`` when given."""
    value, interval = figure_at(summary, path)
    interval = interval if isinstance(interval, list) else None
    if unit is not None and kind in UNIT_KINDS:
        return UNIT_KINDS[kind](value, interval, unit)
    return KINDS[kind](value, interval)
