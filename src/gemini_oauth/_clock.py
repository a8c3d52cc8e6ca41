"""The one clock seam: everything that asks "what time is it" for expiry logic calls now()."""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch (UTC)."""
    return time.time()
