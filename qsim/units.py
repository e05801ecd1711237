"""Units inside scenario strings: durations, rates and sizes.

A bare number, or a string holding only a number, is in the base unit (seconds, messages per
second, bytes). Each kind has one
regular expression, used both to parse and, in the JSON Schema, to let editors check values.
Parsers raise :class:`UnitError` with a message that says what was expected.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "DURATION_PATTERN",
    "INTERVAL_PATTERN",
    "RATE_PATTERN",
    "SIZE_PATTERN",
    "UnitError",
    "parse_duration",
    "parse_rate",
    "parse_size",
]

DURATION_UNITS: dict[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
RATE_UNITS: dict[str, float] = {"s": 1.0, "m": 1 / 60, "min": 1 / 60, "h": 1 / 3600, "d": 1 / 86400}
SIZE_UNITS: dict[str, float] = {"B": 1.0, "KB": 1024.0, "MB": 1024.0**2, "GB": 1024.0**3}


def _pattern(units: dict[str, float], separator: str = "", unit: str = "?") -> str:
    """``number [separator unit]`` with the number and the unit as groups 1 and 2; the unit is
    optional (``unit`` ``"?"``) or required (``""``)."""
    names = "|".join(sorted(units, key=len, reverse=True))
    # one way to match any digit run, so a long run of digits cannot make the regex backtrack
    number = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
    return rf"^\s*({number})(?:\s*{separator}({names})){unit}\s*$"


DURATION_PATTERN = _pattern(DURATION_UNITS)
INTERVAL_PATTERN = _pattern(DURATION_UNITS, unit="")
"""A duration written with its unit (``1h``), as a stream offset's interval must be."""
RATE_PATTERN = _pattern(RATE_UNITS, r"/\s*")
SIZE_PATTERN = _pattern(SIZE_UNITS)


MAX_DURATION = 100 * 365.25 * 86400.0
"""The longest duration qsim accepts: 100 years (3.16e9 s). No queueing question needs a longer
one, and beyond it sums of service times and event times lose their precision (and near 1e308
they overflow)."""


class UnitError(ValueError):
    """A value that is not a valid quantity of the expected kind."""


def _parse(value: object, pattern: str, units: dict[str, float], what: str) -> float:
    number: float | None = None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str) and (match := re.match(pattern, value)):
            number = float(match[1]) * (units[match[2]] if match[2] else 1.0)
    except OverflowError:  # an integer too large for a float
        number = None
    if number is None or number < 0 or not math.isfinite(number):
        raise UnitError(f"expected {what}, got {value!r}")
    return number


def parse_duration(value: object) -> float:
    """Seconds from ``250ms``, ``2s``, ``5m``, ``1h``, ``1d`` or a bare number of seconds, at
    most :data:`MAX_DURATION`."""
    seconds = _parse(
        value, DURATION_PATTERN, DURATION_UNITS, "a duration such as 250ms, 2s, 5m or 1h"
    )
    if seconds > MAX_DURATION:
        raise UnitError(f"expected a duration of at most 100 years (3.16e9 s), got {value!r}")
    return seconds


def parse_rate(value: object) -> float:
    """Messages per second from ``50/s``, ``3000/min``, ``120/h`` or a bare number per second."""
    return _parse(value, RATE_PATTERN, RATE_UNITS, "a rate such as 50/s, 3000/min or 120/h")


def parse_size(value: object) -> float:
    """Bytes from ``512B``, ``4KB``, ``1MB``, ``1GB`` (powers of 1024) or a bare number of bytes."""
    return _parse(value, SIZE_PATTERN, SIZE_UNITS, "a size such as 512B, 4KB or 1MB")
