"""Output that fits where it goes (``_cli/_output.py``), proven on real processes: narrow
terminals keep whole ids, a closed pipe exits 0 in silence, piped output is never wrapped, the
retry line and the spinner show on a terminal and not in a pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gemini_oauth._cli._output import fitting_columns
from gemini_oauth.emulator import Emulator

from conftest import HeldWaits  # isort: skip

from .terminal import Terminal, cli_env, command, on_terminal, plain, sleeps

MODEL_ID = "gemini-2.5-flash-lite-preview-09-2025"  # among the longest ids of the catalogue


def test_fitting_columns_keeps_the_first_whole_and_drops_from_the_right() -> None:
    headers = ["Name", "Display name", "Input"]
    rows = [["a-very-long-model-identifier", "A display name that is long", "1048576"]]
    assert fitting_columns(headers, rows, 200) == [0, 1, 2]
    assert fitting_columns(headers, rows, 28 + 2 + 16) == [0, 1]  # the name, and 16 to wrap in
    assert fitting_columns(headers, rows, 28 + 2 + 15) == [0]
    assert fitting_columns(headers, rows, 28) == [0]
    assert fitting_columns(headers, rows, 27) == []  # narrower than an id: ids alone, whole
    rows = [["a-very-long-model-identifier", "someone@an-example.com", "1048576"]]
    assert fitting_columns(headers, rows, 28 + 2 + 21) == [0]  # the email would break
    assert fitting_columns(headers, rows, 28 + 2 + 22) == [0, 1]


@pytest.mark.parametrize("columns", [60, 40])
def test_a_narrow_terminal_keeps_full_model_ids(
    emulator: Emulator, seed_login: object, columns: int
) -> None:
    seed_login()  # type: ignore[operator]
    env = cli_env(GOOGLE_GEMINI_BASE_URL=emulator.base_url)
    code, screen = on_terminal(command("models", "list"), env, columns=columns)
    assert code == 0, screen
    lines = plain(screen).splitlines()
    assert any(line.split()[0] == MODEL_ID for line in lines if line.strip())
    assert "…" not in screen and "..." not in screen
    too_long = [line.rstrip() for line in lines if len(line.rstrip()) > columns]
    assert all(" " not in line or "not shown" in line for line in too_long)  # a whole id only
    assert "Methods" in screen  # the note names the columns left out
    wide_code, wide = on_terminal(command("models", "list"), env, columns=200)
    header = next(line for line in plain(wide).splitlines() if line.startswith("Name"))
    assert wide_code == 0 and "not shown" not in wide and "Methods" in header


@pytest.mark.parametrize("project", ["emulator-project", "a-quota-project-of-20"])
def test_a_narrow_terminal_wraps_cells_between_words_only(
    emulator: Emulator, seed_login: object, project: str
) -> None:
    """`profiles` in a 60-column window: an account or a project id is shown whole or its
    column is left out (and named), never cut across two lines."""
    seed_login(quota_project=project)  # type: ignore[operator]
    code, screen = on_terminal(command("profiles"), cli_env(), columns=60)
    shown = plain(screen)
    assert code == 0, shown
    assert emulator.user_email in shown, shown
    assert project in shown or "Quota project" in shown.split("not shown")[0].splitlines()[-1]
    assert "…" not in shown and "..." not in shown, shown


def test_a_closed_pipe_exits_0_without_a_word(emulator: Emulator, seed_login: object) -> None:
    """`gemini-oauth models list | head -1` under `set -o pipefail`: 0, and nothing on stderr."""
    seed_login()  # type: ignore[operator]
    env = cli_env(GOOGLE_GEMINI_BASE_URL=emulator.base_url)
    for args in (("models", "list"), ("models", "list", "--json"), ("status",)):
        proc = subprocess.Popen(
            command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(5)  # it began to write; then the reader goes away
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(60) == 0, err
        assert err == b""
    shell = subprocess.run(
        ["bash", "-o", "pipefail", "-c", "gemini-oauth models list | head -1; echo $?"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PATH": f"{Path(command()[0]).parent}:{env['PATH']}"},
    )
    assert shell.stdout.splitlines()[-1] == "0" and shell.stderr == ""


def test_print_access_token_into_a_closed_pipe(seed_login: object) -> None:
    seed_login()  # type: ignore[operator]
    proc = subprocess.Popen(
        command("print-access-token"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env()
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before it writes
    assert proc.wait(60) == 0 and proc.stderr.read() == b""


def test_piped_status_is_not_wrapped(seed_login: object) -> None:
    seed_login(quota_project="a-project-with-a-long-name-to-make-the-line-longer")  # type: ignore[operator]
    done = subprocess.run(
        command("status"), capture_output=True, text=True, timeout=60, env=cli_env(COLUMNS="40")
    )
    assert done.returncode == 0
    (client_line,) = [line for line in done.stdout.splitlines() if "Client:" in line]
    assert client_line.endswith(".apps.googleusercontent.com")  # one line, however long
    assert "\x1b[" not in done.stdout  # and no colour in a file


def test_retry_line_on_a_terminal_not_in_a_pipe(
    emulator: Emulator, seed_login: object, tmp_path: Path
) -> None:
    """A 429 with Retry-After 5: on a terminal, a line per retry; in a pipe, silence unless -v.
    The waits are asked of the sleep seam (5 s each), never waited."""
    seed_login()  # type: ignore[operator]
    log = tmp_path / "sleeps"
    env = cli_env(GOOGLE_GEMINI_BASE_URL=emulator.base_url, TEST_SLEEP_LOG=str(log))
    argv = command("models", "list", "--limit", "1", no_waiting=True)
    line_2 = "rate-limited (429); retrying in 5 s, attempt 2 of 4"
    line_3 = "rate-limited (429); retrying in 5 s, attempt 3 of 4"

    emulator.control.add_fault("/v1/models", 429, count=2, retry_after=5)
    code, screen = on_terminal(argv, env)
    assert code == 0 and line_2 in screen and line_3 in screen, screen
    assert sleeps(log) == [5.0, 5.0]

    emulator.control.add_fault("/v1/models", 429, count=2, retry_after=5)
    piped = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout.startswith("gemini-")
    assert sleeps(log) == [5.0] * 4  # it did retry, quietly

    emulator.control.add_fault("/v1/models", 429, count=2, retry_after=5)
    verbose = subprocess.run([*argv, "-v"], capture_output=True, text=True, env=env, timeout=60)
    assert verbose.returncode == 0 and line_2 in verbose.stderr and line_3 in verbose.stderr


def test_no_retry_and_max_attempts(emulator: Emulator, seed_login: object, tmp_path: Path) -> None:
    seed_login()  # type: ignore[operator]
    log = tmp_path / "sleeps"
    env = cli_env(GOOGLE_GEMINI_BASE_URL=emulator.base_url, TEST_SLEEP_LOG=str(log))
    emulator.control.add_fault("/v1/models", 503, count=5)
    once = subprocess.run(
        command("models", "list", "--no-retry", no_waiting=True),
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert once.returncode == 4 and sleeps(log) == []
    twice = subprocess.run(
        command("models", "list", "--max-attempts", "2", no_waiting=True),
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert twice.returncode == 4 and len(sleeps(log)) == 1
    assert emulator.control.counters()["faults"] == 3
    both = subprocess.run(
        command("models", "list", "--no-retry", "--max-attempts", "3"),
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert both.returncode == 2 and "give one" in both.stderr


def test_a_spinner_turns_while_an_answer_is_awaited_on_a_terminal(
    emulator: Emulator, seed_login: object, held_waits: HeldWaits
) -> None:
    """Injected latency, held by the test: the spinner is on the screen while the answer is
    held, and wiped before it is printed. In a pipe no spinner starts (stderr is no terminal)."""
    seed_login()  # type: ignore[operator]
    env = cli_env(GOOGLE_GEMINI_BASE_URL=emulator.base_url)
    path = "/v1/models/gemini-2.5-flash:streamGenerateContent"
    emulator.control.add_fault(path, None, latency=5.0)
    terminal = Terminal(command("generate", "hello"), env)
    assert held_waits.started(1)
    assert terminal.shows("Asking gemini-2.5-flash"), terminal.screen  # while it is held
    held_waits.release(99)
    code, screen = terminal.finish()
    assert code == 0 and "\x1b[K" in screen
    assert screen.rstrip().endswith("hello")  # the line was wiped before the answer
    assert not held_waits.overran
    emulator.control.add_fault(path, None, latency=5.0)
    piped = subprocess.run(
        command("generate", "hello"), capture_output=True, text=True, env=env, timeout=60
    )
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout.endswith("hello\n")


def test_no_spinner_starts_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from gemini_oauth._cli import _output

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with _output.spinner("Asking"):
        assert _output._active is None
    assert sys.stderr.getvalue() == ""


def test_a_rate_limit_longer_than_the_retries_names_googles_wait(
    emulator: Emulator, seed_login: object, tmp_path: Path
) -> None:
    """A 429 whose Retry-After (45 s) is past the retries' deadline ends at once, and says how
    long Google asked to wait, rather than a generic 'wait a minute'."""
    seed_login()  # type: ignore[operator]
    log = tmp_path / "sleeps"
    env = cli_env(GOOGLE_GEMINI_BASE_URL=emulator.base_url, TEST_SLEEP_LOG=str(log))
    emulator.control.add_fault("/v1/models", 429, count=1, retry_after=45)
    done = subprocess.run(
        command("models", "list", no_waiting=True), capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 4 and sleeps(log) == [], done.stderr
    assert done.stderr.startswith("error: Gemini API error 429"), done.stderr
    assert "Google asked to wait 45 s before trying again" in done.stderr
