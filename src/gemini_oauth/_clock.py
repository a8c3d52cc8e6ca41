"""The one clock seam, and RFC 3339 times as the cache stores them. Standard library only.

Everything that asks "what time is it" for expiry logic calls ``now()``; tests replace it.
"""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch (UTC)."""
    return time.time()


def to_rfc3339(epoch: float) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (google-auth's expiry format, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def rfc3339_to_epoch(value: str) -> float:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (google-auth's expiry format) to epoch seconds."""
    digits = value[0:4] + value[5:7] + value[8:10] + value[11:13] + value[14:16] + value[17:19]
    frac = value[19:-1]
    if (
        len(value) < 20
        or value[-1] != "Z"
        or value[4] + value[7] + value[10] + value[13] + value[16] != "--T::"
        or not (digits.isascii() and digits.isdigit())
        or (frac and not (frac[0] == "." and frac[1:].isascii() and frac[1:].isdigit()))
    ):
        raise ValueError("not an RFC 3339 UTC time")
    y, m, d = int(value[0:4]), int(value[5:7]), int(value[8:10])
    hh, mm, ss = int(value[11:13]), int(value[14:16]), int(value[17:19])
    if not (1 <= m <= 12 and 1 <= d <= 31 and hh < 24 and mm < 60 and ss < 61):
        raise ValueError("not an RFC 3339 UTC time")
    # days from civil (Howard Hinnant), avoiding calendar/datetime imports on the hot path
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days * 86400 + hh * 3600 + mm * 60 + ss + (float("0" + frac) if frac else 0.0)


def http_date_to_epoch(value: str | None) -> float | None:
    """An HTTP ``Date`` header (RFC 9110 §5.6.7) as epoch seconds; None if absent or malformed."""
    if not value:
        return None
    import email.utils  # only when a server's clock is wanted

    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
