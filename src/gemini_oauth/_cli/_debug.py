"""What ``-v/--verbose`` turns on: DEBUG logs of our HTTP and auth stack on stderr, redacted."""

from __future__ import annotations

import logging
import os
import sys

from gemini_oauth._constants import DEBUG_ENV
from gemini_oauth._redact import RedactingFilter

#: Loggers that --verbose turns to DEBUG (everything else still reaches stderr from WARNING up).
DEBUG_LOGGERS = ("gemini_oauth", "httpx", "httpcore", "google.auth", "urllib3")
_debug: tuple[logging.Handler, dict[str, int]] | None = None


def requested_by_env() -> bool:
    """$GEMINI_OAUTH_DEBUG is 1, true, yes or on."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def active() -> bool:
    """Debug logging is on (run() then shows an unexpected error's traceback, redacted)."""
    return _debug is not None


def start_debug_logging() -> None:
    """Send DEBUG logs of our HTTP and auth stack to stderr, through the secret-redacting filter."""
    global _debug
    if _debug is not None:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.addFilter(RedactingFilter())
    levels = {name: logging.getLogger(name).level for name in DEBUG_LOGGERS}
    for name in DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    # On the root logger, so other libraries' warnings go through the filter too.
    logging.getLogger().addHandler(handler)
    _debug = (handler, levels)


def stop_debug_logging() -> None:
    """Undo ``start_debug_logging``; run() calls it, leaving in-process callers as they were."""
    global _debug
    if _debug is None:
        return
    handler, levels = _debug
    _debug = None
    logging.getLogger().removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
