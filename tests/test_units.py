"""Units inside scenario strings: durations in seconds, rates per second, sizes in bytes.

A bare number is in the base unit; anything else must be a number followed by a known unit.
Rejections say what was expected and repeat the offending value.
"""

import pytest

from qsim.units import UnitError, parse_duration, parse_rate, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10us", 10e-6),
        ("250ms", 0.25),
        ("2s", 2.0),
        ("5m", 300.0),
        ("5min", 300.0),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        ("1d", 86400.0),
        (".5s", 0.5),
        ("1e3ms", 1.0),
        (" 2 s ", 2.0),
        ("0s", 0.0),
        (3, 3.0),
        (0.25, 0.25),
        (0, 0.0),
    ],
)
def test_a_duration_is_read_in_seconds(text, seconds):
    """``250ms``, ``2s``, ``5m``, ``1h``, ``1d`` are seconds; a bare number already is."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("50/s", 50.0),
        ("3000/min", 50.0),
        ("60/m", 1.0),
        ("120/h", 120 / 3600),
        ("864/d", 0.01),
        ("50 / s", 50.0),
        ("0/s", 0.0),
        (50, 50.0),
        (2.5, 2.5),
    ],
)
def test_a_rate_is_read_in_messages_per_second(text, per_second):
    """``50/s``, ``3000/min``, ``120/h`` are messages per second; a bare number already is."""
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize(
    ("text", "size_bytes"),
    [
        ("512B", 512.0),
        ("4KB", 4096.0),
        ("1.5KB", 1536.0),
        ("1MB", 1024.0**2),
        ("1GB", 1024.0**3),
        ("4 KB", 4096.0),
        (512, 512.0),
    ],
)
def test_a_size_is_read_in_bytes_with_powers_of_1024(text, size_bytes):
    """``512B``, ``4KB``, ``1MB``, ``1GB`` are bytes (KB = 1024 B); a bare number already is."""
    assert parse_size(text) == pytest.approx(size_bytes)


DURATION_EXPECTED = "expected a duration such as 250ms, 2s, 5m or 1h, got "
RATE_EXPECTED = "expected a rate such as 50/s, 3000/min or 120/h, got "
SIZE_EXPECTED = "expected a size such as 512B, 4KB or 1MB, got "


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        # negative quantities
        (parse_duration, -1, DURATION_EXPECTED + "-1"),
        (parse_duration, "-1s", DURATION_EXPECTED + "'-1s'"),
        (parse_rate, -5, RATE_EXPECTED + "-5"),
        (parse_rate, "-5/s", RATE_EXPECTED + "'-5/s'"),
        (parse_size, -1, SIZE_EXPECTED + "-1"),
        # booleans are not numbers, although Python says True == 1
        (parse_duration, True, DURATION_EXPECTED + "True"),
        (parse_rate, False, RATE_EXPECTED + "False"),
        (parse_size, True, SIZE_EXPECTED + "True"),
        # junk
        (parse_duration, "soon", DURATION_EXPECTED + "'soon'"),
        (parse_duration, "", DURATION_EXPECTED + "''"),
        (parse_duration, "s", DURATION_EXPECTED + "'s'"),
        (parse_duration, None, DURATION_EXPECTED + "None"),
        (parse_duration, [1], DURATION_EXPECTED + "[1]"),
        (parse_rate, "fast", RATE_EXPECTED + "'fast'"),
        (parse_size, "big", SIZE_EXPECTED + "'big'"),
        # not finite
        (parse_duration, float("nan"), DURATION_EXPECTED + "nan"),
        (parse_duration, float("inf"), DURATION_EXPECTED + "inf"),
        # unknown units, including the wrong case and the wrong kind of quantity
        (parse_duration, "2 parsecs", DURATION_EXPECTED + "'2 parsecs'"),
        (parse_duration, "2S", DURATION_EXPECTED + "'2S'"),
        (parse_duration, "50/s", DURATION_EXPECTED + "'50/s'"),
        (parse_rate, "50/sec", RATE_EXPECTED + "'50/sec'"),
        (parse_rate, "50s", RATE_EXPECTED + "'50s'"),
        (parse_size, "4KiB", SIZE_EXPECTED + "'4KiB'"),
        (parse_size, "2s", SIZE_EXPECTED + "'2s'"),
    ],
)
def test_a_value_that_is_not_a_quantity_is_rejected_with_what_was_expected(parse, value, message):
    """The error names the kind of quantity, gives examples and repeats the value as written."""
    with pytest.raises(UnitError) as caught:
        parse(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("parse", "text"),
    [(parse_duration, "1e400s"), (parse_rate, "1e400/s"), (parse_size, "1e400KB")],
)
def test_a_number_too_large_to_be_finite_is_rejected_like_a_bare_infinity(parse, text):
    """A string that overflows to infinity is no more a quantity than ``float('inf')`` is."""
    with pytest.raises(UnitError, match=r"^expected a "):
        parse(text)


def test_a_unit_error_is_a_value_error():
    """Callers that only know about ``ValueError`` still catch a bad quantity."""
    assert issubclass(UnitError, ValueError)
