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


class Terminal:
    """``argv`` running with stdin, stdout and stderr on one pseudo-terminal ``columns`` wide
    (COLUMNS too); what the screen receives is read as it comes, so a test can watch it."""

    def __init__(
        self, argv: list[str], env: dict[str, str], *, columns: int = 200, timeout: float = 60.0
    ) -> None:
        leader, follower = os.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
        self.proc = subprocess.Popen(
            argv,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env={**env, "COLUMNS": str(columns), "TERM": "xterm"},
            start_new_session=True,
        )
        os.close(follower)
        self._leader = leader
        self._shown = b""
        self._changed = threading.Condition()
        self._done = False
        self._watchdog = threading.Timer(timeout, self.proc.kill)
        self._watchdog.start()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._leader, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                chunk = b""
            with self._changed:
                self._shown += chunk
                self._done = not chunk
                self._changed.notify_all()
            if not chunk:
                return

    @property
    def screen(self) -> str:
        with self._changed:
            return self._shown.decode("utf-8", "replace")

    def shows(self, text: str, timeout: float = 30.0) -> bool:
        """Wait (at most ``timeout`` s) until ``text`` is on the screen, or the process ended."""
        with self._changed:
            self._changed.wait_for(lambda: text.encode() in self._shown or self._done, timeout)
            return text.encode() in self._shown

    def finish(self) -> tuple[int, str]:
        """Wait for the end; the exit code and everything the screen received."""
        self._reader.join()
        self._watchdog.cancel()
        os.close(self._leader)
        return self.proc.wait(10), self.screen


def on_terminal(
    argv: list[str], env: dict[str, str], *, columns: int = 200, timeout: float = 60.0
) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal (``Terminal``) to its end: exit code and screen."""
    return Terminal(argv, env, columns=columns, timeout=timeout).finish()


def plain(screen: str) -> str:
    """What the screen shows as text: colours and erasures (CSI sequences) taken out."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)


def sleeps(log: Path) -> list[float]:
    """The delays asked of the sleep seam (``NO_WAITING``)."""
    return [float(line) for line in log.read_text().split()] if log.exists() else []
