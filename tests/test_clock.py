"""The clock seam's RFC 3339 parser agrees with datetime and refuses anything else."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gemini_oauth._clock import rfc3339_to_epoch, to_rfc3339


@given(
    st.datetimes(min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(9999, 1, 1))
)
def test_rfc3339_matches_datetime(moment: datetime.datetime) -> None:
    aware = moment.replace(tzinfo=datetime.timezone.utc)
    text = (
        aware.strftime("%Y-%m-%dT%H:%M:%S")
        + (f".{moment.microsecond:06d}" if moment.microsecond else "")
        + "Z"
    )
    assert abs(rfc3339_to_epoch(text) - aware.timestamp()) < 1e-5


@pytest.mark.parametrize(
    "bad", ["", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "x" * 20 + "Z"]
)
def test_rfc3339_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        rfc3339_to_epoch(bad)


def test_to_rfc3339_round_trips() -> None:
    assert to_rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339_to_epoch(to_rfc3339(1_780_000_000.9)) == 1_780_000_000
