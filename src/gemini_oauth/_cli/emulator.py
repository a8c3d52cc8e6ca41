"""``gemini-oauth emulator``: run the local Google until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from gemini_oauth._cli._options import say, verbose_option
from gemini_oauth.errors import GeminiOAuthError


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1; 0 picks a free one.")  # fmt: skip
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep users, grants and tokens in this JSON file across restarts.")  # fmt: skip
@click.option("--write-client-secret", "client_file",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Write a matching Desktop client_secret.json here (0600).")  # fmt: skip
@verbose_option
def emulator(port: int, state_path: Path | None, client_file: Path | None) -> None:
    """Serve an emulator of Google's OAuth and Gemini endpoints on 127.0.0.1.

    Prints the base URL on stdout, then serves until Ctrl-C or SIGTERM. Everything in it is
    fake (client, test user tester@example.com, models); nothing reaches Google.

    \b
    Try it:
      gemini-oauth emulator --port 8089 --write-client-secret emu.json
      # then, in another terminal:
      gemini-oauth login --client-secret emu.json --profile emu
      gemini-oauth models list --profile emu --endpoint http://127.0.0.1:8089
    """
    from gemini_oauth.emulator import Emulator

    try:
        emu = Emulator(port=port, state_path=state_path)
    except ValueError as exc:
        raise GeminiOAuthError(str(exc), hint="Delete it, or pass another --state PATH.") from exc
    except OSError as exc:
        raise GeminiOAuthError(
            f"Cannot write the state file {state_path}: {exc.strerror}.",
            hint="Pass a --state PATH in a folder you can write to.",
        ) from exc
    try:
        emu.start()
    except ModuleNotFoundError as exc:
        if exc.name not in ("flask", "authlib", "werkzeug"):
            raise
        raise GeminiOAuthError(
            f"The emulator needs {exc.name}, which is not installed.",
            hint="Install it with: pip install 'gemini-oauth[emulator]'",
        ) from exc
    except OSError as exc:
        raise GeminiOAuthError(
            f"Cannot listen on 127.0.0.1:{port}: {exc.strerror}.",
            hint="Choose another --port, or use --port 0 for a free one.",
        ) from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        if client_file is not None:
            try:
                emu.write_client_secret(client_file)
            except OSError as exc:
                raise GeminiOAuthError(
                    f"Cannot write {client_file}: {exc.strerror}.",
                    hint="Pass a --write-client-secret PATH in a folder you can write to.",
                ) from exc
            say(f"Wrote {client_file}")
        click.echo(emu.base_url)
        sys.stdout.flush()
        say(f"Test user {emu.user_email}; Ctrl-C to stop.")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        emu.stop()
    say("Emulator stopped.")
