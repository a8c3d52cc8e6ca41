"""Output that fits where it goes: a terminal, a pipe, a file, a narrow window.

- A closed pipe (``gemini-oauth models list | head -1``) ends the command quietly with exit 0, as
  Unix tools do, so ``set -o pipefail`` scripts go on (``pipe_closed``, called by ``_root``).
- Piped or redirected output is never wrapped (``console``). A table on a terminal never shortens
  its first column (the ids people copy): the other columns wrap first, between words only (an
  account or a project id stays whole), then the rightmost go (``print_table``); off a terminal
  it is tab-separated lines.
- Waiting shows a spinner on stderr, only when stderr is a terminal (``spinner``); each retry
  says why and when on a line of its own there, and elsewhere only with -v (``retry_notice``).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, TextIO

import click

from gemini_oauth._cli import _debug

if TYPE_CHECKING:
    from rich.console import Console

    from gemini_oauth._retry import Retrying

#: How long a wait goes unannounced: quick answers never flash a spinner.
SPINNER_DELAY = 0.2
_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


# ---------------------------------------------------------------- pipes


def pipe_closed() -> int:
    """The reader of stdout went away: send what is still buffered nowhere and end with 0."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file descriptor (tests, embedding)
        pass
    return 0


def console(*, soft_wrap: bool = False) -> Console:
    """A rich console for stdout: on a terminal, its width (``soft_wrap``: long lines left to
    the terminal, so a value is never moved to a line of its own); elsewhere no wrapping, no
    colour. A closed pipe raises BrokenPipeError, for ``_root`` to end quietly (rich would exit
    1)."""
    from rich.console import Console

    class QuietConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    if is_terminal(sys.stdout):
        return QuietConsole(highlight=False, soft_wrap=soft_wrap)
    return QuietConsole(highlight=False, soft_wrap=True, no_color=True, emoji=False)


# ---------------------------------------------------------------- tables


def cell_text(value: object) -> str:
    """A value fit for one cell or line: no control or format characters (terminal escapes,
    bidi overrides), no tabs or line breaks. What a server or a cache holds is untrusted."""
    return "".join(c for c in " ".join(str(value).split()) if c.isprintable())


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, name: str) -> None:
    """Rows as a table on a terminal (the first column whole), tab-separated lines elsewhere;
    each cell through ``cell_text``.

    ``name`` says what the rows are ("models"), for the note on columns a narrow terminal drops.
    """
    rows = [[cell_text(cell) for cell in row] for row in rows]
    if not is_terminal(sys.stdout):
        for row in rows:
            click.echo("\t".join(row))
        return
    out = console()
    kept = fitting_columns(headers, rows, out.width)
    if kept:
        _table(out, headers, rows, kept)
    else:  # narrower than the ids themselves: the ids alone, whole
        for row in rows:
            click.echo(row[0])
    dropped = [headers[i] for i in range(1, len(headers)) if i not in kept]
    if dropped:
        say_on_terminal(
            f"({', '.join(dropped)} not shown: the terminal is {out.width} columns wide; "
            f"--json has every field of the {name}.)"
        )


def _table(
    out: Console, headers: Sequence[str], rows: Sequence[Sequence[str]], kept: list[int]
) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for i in kept:
        first = i == 0
        whole = max((len(r[0]) for r in rows), default=0) if first else _longest_word(i, rows)
        table.add_column(headers[i], no_wrap=first, min_width=whole, overflow="fold")
    for row in rows:
        table.add_row(*(escape(_breakable(row[i])) for i in kept))
    out.print(table)


def _breakable(cell: str) -> str:
    """``a,b,c`` as ``a, b, c``, so that a list wraps between its items."""
    return cell if " " in cell else cell.replace(",", ", ")


def _longest_word(column: int, rows: Sequence[Sequence[str]]) -> int:
    """The narrowest ``column`` can wrap to without cutting a word (an email, a project id)."""
    return max((len(word) for r in rows for word in _breakable(r[column]).split()), default=0)


#: The narrowest a wrapped column may get.
_MIN_WRAPPED = 16


def fitting_columns(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """The columns that fit ``width``: the first at full width, then others from the left
    while each can have at least its header (or 16 characters) and its longest word without
    pushing the first."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    used = widths[0]
    if used > width:
        return []
    kept = [0]
    for i in range(1, len(headers)):
        least = min(widths[i], max(len(headers[i]), _MIN_WRAPPED, _longest_word(i, rows)))
        if used + 2 + least > width:
            break
        used += 2 + least
        kept.append(i)
    return kept


# ---------------------------------------------------------------- waiting


class Spinner:
    """A line on a terminal's stderr that turns while something is awaited, with the time left
    if there is a deadline. It appears only after SPINNER_DELAY, and leaves no trace."""

    def __init__(self, message: str, deadline: float | None, stream: TextIO) -> None:
        self.message = message
        self.deadline = deadline  # time.monotonic() value
        self.stream = stream
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._shown = False
        self._thread = threading.Thread(target=self._turn, name="spinner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        with self._lock:
            self._clear()

    def say(self, text: str) -> None:
        """A line above the spinner (it is drawn again on its next turn)."""
        with self._lock:
            self._clear()
            print(text, file=self.stream, flush=True)

    def line(self, frame: str) -> str:
        text = f"{frame} {self.message}"
        if self.deadline is not None:
            left = max(0, int(self.deadline - time.monotonic() + 0.999))
            text += f" ({left // 60}:{left % 60:02d} left; Ctrl-C to cancel)"
        return text

    def _turn(self) -> None:
        if self._stopped.wait(SPINNER_DELAY):
            return
        turn = 0
        while True:
            width = shutil.get_terminal_size().columns
            with self._lock:
                if self._stopped.is_set():
                    return
                text = self.line(_FRAMES[turn % len(_FRAMES)])[: max(1, width - 1)]
                self.stream.write(f"\r{text}\x1b[K")
                self.stream.flush()
                self._shown = True
            turn += 1
            if self._stopped.wait(0.1):
                return

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


_active: Spinner | None = None


@contextmanager
def spinner(message: str, *, timeout: float | None = None) -> Iterator[None]:
    """Turn a spinner on stderr while the block runs, if stderr is a terminal; else nothing.

    ``timeout`` (seconds from now) adds the time left. Lines said meanwhile (``say_on_terminal``,
    retry notices, ``_options.say``) print above it.
    """
    global _active
    if _active is not None or not is_terminal(sys.stderr):
        yield
        return
    deadline = None if timeout is None else time.monotonic() + timeout
    turning = Spinner(message, deadline, sys.stderr)
    _active = turning
    turning.start()
    try:
        yield
    finally:
        _active = None
        turning.stop()


def waiting(message: str, timeout: float) -> AbstractContextManager[object]:
    """The login's wait for the browser: a spinner with the time left on a terminal, else the
    message once (``_flow.Waiting``)."""
    if is_terminal(sys.stderr):
        return spinner(message, timeout=timeout)
    say(f"{message} (up to {timeout:g} s; Ctrl-C to cancel)...")
    return nullcontext()


def say(text: str) -> None:
    """A line on stderr, above a spinner if one turns."""
    if _active is not None:
        _active.say(text)
    else:
        click.echo(text, err=True)


def say_on_terminal(text: str) -> None:
    """A line on stderr when it is a terminal (or with -v): talk that scripts need not see."""
    if is_terminal(sys.stderr) or _debug.active():
        say(text)


def retry_notice(notice: Retrying) -> None:
    """``rate-limited (429); retrying in 5 s, attempt 2 of 4``: the clients' ``on_retry``."""
    say_on_terminal(str(notice))


__all__ = [
    "SPINNER_DELAY",
    "Spinner",
    "cell_text",
    "console",
    "fitting_columns",
    "is_terminal",
    "pipe_closed",
    "print_table",
    "retry_notice",
    "say",
    "say_on_terminal",
    "spinner",
    "waiting",
]
