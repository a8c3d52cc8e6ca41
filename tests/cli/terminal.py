"""The CLI as a real process on a pseudo-terminal (stdout and stderr both), as a person runs it.

``NO_WAITING`` replaces ``time.sleep`` in the process before gemini-oauth is imported (the retry
policy's sleep seam takes it as its default), writing each requested delay to
$TEST_SLEEP_LOG: backoff is asked for, never waited out.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

NO_WAITING = """
import os, sys, time
def _asked(seconds):
    with open(os.environ["TEST_SLEEP_LOG"], "a") as log:
        log.write(f"{seconds}\\n")
time.sleep = _asked
from gemini_oauth._cli import main
main(sys.argv[1:])
"""


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **extra}


def command(*args: str, no_waiting: bool = False) -> list[str]:
    """The argv of ``gemini-oauth ARGS`` (with the sleep seam replaced if ``no_waiting``)."""
    if no_waiting:
        return [sys.executable, "-c", NO_WAITING, *args]
    return [sys.executable, "-m", "gemini_oauth", *args]


def on_terminal(
    argv: list[str], env: dict[str, str], *, columns: int = 200, timeout: float = 60.0
) -> tuple[int, str]:
    """Run ``argv`` with stdin, stdout and stderr on one pseudo-terminal ``columns`` wide
    (COLUMNS too); returns the exit code and everything the screen received."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        argv,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**env, "COLUMNS": str(columns), "TERM": "xterm"},
        start_new_session=True,
    )
    os.close(follower)
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    shown = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                break
            if not chunk:
                break
            shown += chunk
    finally:
        watchdog.cancel()
        os.close(leader)
    return proc.wait(10), shown.decode("utf-8", "replace")


def plain(screen: str) -> str:
    """What the screen shows as text: colours and erasures (CSI sequences) taken out."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)


def sleeps(log: Path) -> list[float]:
    """The delays asked of the sleep seam (``NO_WAITING``)."""
    return [float(line) for line in log.read_text().split()] if log.exists() else []
