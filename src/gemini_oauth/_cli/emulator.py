"""``gemini-oauth emulator``: run the local Google until Ctrl-C or SIGTERM, and say how to point
the CLI, gcloud and Google's libraries at it.

Each running emulator has a folder of its own, ``<home>/emulators/<port>/`` (0700): its client
file, the gemini-oauth home and gcloud config folder that its export lines name (so that logins
made against it never touch the user's own), and ``env``, those lines. ``--print-env --port N``
prints them for another shell (``eval "$(gemini-oauth emulator --print-env --port N)"``, as
gcloud's emulators have ``env-init``). The folder goes when the emulator stops, unless ``--state``
keeps the emulator's grants: then it is kept too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from gemini_oauth._cli._options import say, verbose_option
from gemini_oauth._constants import (
    BASE_URL_ENV,
    CLIENT_SECRET_ENV,
    CLOUDSDK_CONFIG_ENV,
    HOME_ENV,
    RESOURCE_MANAGER_ENV,
    TOKEN_HOST_ENV,
)
from gemini_oauth._extras import install_hint
from gemini_oauth.errors import GeminiOAuthError

if TYPE_CHECKING:
    from gemini_oauth._store import TokenFile
    from gemini_oauth.emulator import Emulator

ENV_FILE = "env"


def environment(base_url: str, folder: Path) -> dict[str, str]:
    """What points gemini-oauth, gcloud and Google's libraries at an emulator at ``base_url``,
    with the client file and homes in ``folder``, and a browser that needs no one."""
    return {
        BASE_URL_ENV: base_url,
        TOKEN_HOST_ENV: f"{base_url}/token",
        RESOURCE_MANAGER_ENV: f"{base_url}/",
        CLIENT_SECRET_ENV: str(folder / "client_secret.json"),
        HOME_ENV: str(folder / "home"),
        CLOUDSDK_CONFIG_ENV: str(folder / "gcloud"),
        # a built-in headless user agent approves each sign-in: no browser needed
        "BROWSER": f"{shlex.quote(sys.executable)} -m gemini_oauth._useragent %s",
    }


def export_lines(env: dict[str, str]) -> str:
    """``export NAME=value`` lines for a POSIX shell."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def _env_file(port: int) -> TokenFile:
    """``<home>/emulators/<port>/env``; in a shell already pointed at an emulator (its home is
    ``<home>/emulators/<n>/home``), the same ``<home>``."""
    from gemini_oauth._store import config_home, home_file

    home = config_home()
    if home.name == "home" and home.parent.parent.name == "emulators":
        return home_file("emulators", f"{port}/{ENV_FILE}", home.parent.parent.parent)
    return home_file("emulators", f"{port}/{ENV_FILE}")


@click.command(short_help="Serve an emulator of Google's OAuth and Gemini APIs.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, metavar="PORT",
              help="Port on 127.0.0.1 (default: 0, a free one).")  # fmt: skip
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE",
              help="Keep users, grants and tokens in this JSON file across restarts (and the "
              "emulator's own gemini-oauth and gcloud folders with them).")  # fmt: skip
@click.option("--write-client-secret", "client_file", metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Also write its Desktop client_secret.json here (0600).")  # fmt: skip
@click.option("--print-env", is_flag=True,
              help="Print the export lines of the emulator running on --port PORT, for eval in "
              "another shell, and exit.")  # fmt: skip
@verbose_option
def emulator(port: int, state_path: Path | None, client_file: Path | None, print_env: bool) -> None:
    """Serve an emulator of Google's OAuth and Gemini endpoints on 127.0.0.1.

    Prints, on stdout, the export lines that point gemini-oauth, gcloud and Google's libraries
    at it (with a gemini-oauth home and gcloud folder of its own: your logins are not touched),
    then serves until Ctrl-C or SIGTERM. Everything in it is fake (client, test user
    tester@example.com, models); nothing reaches Google. Its control surface (clock, faults,
    counters) is under /__emulator__/ (see the README).

    \b
    Try it:
      gemini-oauth emulator --port 8089
      # then, in another terminal:
      eval "$(gemini-oauth emulator --print-env --port 8089)"
      gemini-oauth login && gemini-oauth models list
    """
    if print_env:
        _print_env(port)
        return
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
            hint=install_hint("emulator"),
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
    bound = int(emu.base_url.rsplit(":", 1)[1])
    folder = _env_file(bound).path.parent
    try:
        if client_file is not None:
            _write_client_file(
                emu, client_file, "Pass a --write-client-secret PATH in a folder you can write to."
            )
            say(f"Wrote {client_file}")
        lines = _prepare(emu, folder)
        click.echo(lines, nl=False)
        sys.stdout.flush()
        say(
            f"Emulator of Google's OAuth and Gemini APIs on {emu.base_url} (test user "
            f"{emu.user_email}); Ctrl-C stops it."
        )
        say("In another shell, paste the export lines above, or run:")
        say(f'    eval "$(gemini-oauth emulator --print-env --port {bound})"')
        kept = "kept with --state" if state_path else "removed when it stops"
        say(f"They name a home of its own, {folder} ({kept}): your logins are not touched.")
        say("BROWSER is a headless user agent that approves each sign-in (unset it to use yours).")
        say(f"Control surface: {emu.base_url}/__emulator__/ (clock, faults, counters).")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        emu.stop()
        if state_path is None:
            shutil.rmtree(folder, ignore_errors=True)
    say("Emulator stopped.")


def _write_client_file(emu: Emulator, path: Path, hint: str) -> None:
    try:
        emu.write_client_secret(path)
    except OSError as exc:
        raise GeminiOAuthError(f"Cannot write {path}: {exc.strerror}.", hint=hint) from exc


def _prepare(emu: Emulator, folder: Path) -> str:
    """The emulator's folder: its client file, two private homes, ``env``; the lines."""
    lines = export_lines(environment(emu.base_url, folder))
    _env_file(int(emu.base_url.rsplit(":", 1)[1])).write_text(lines)  # the folders 0700 first
    hint = f"Point {HOME_ENV} at a folder you can write to."
    _write_client_file(emu, folder / "client_secret.json", hint)
    for private in ("home", "gcloud"):
        (folder / private).mkdir(mode=0o700, exist_ok=True)
    return lines


def _print_env(port: int) -> None:
    """``--print-env``: the lines of the emulator on ``port``, if one of this user's runs."""
    if port == 0:
        raise click.UsageError("--print-env needs the --port PORT the emulator listens on.")
    raw = _env_file(port).read_bytes()
    owner = _listener(port) if raw is not None else None
    if owner not in (None, os.geteuid()):  # an emulator of ours died; its lines would point there
        raise GeminiOAuthError(
            f"No emulator of yours is running on port {port}: the program listening on port "
            f"{port} belongs to another user (uid {owner}), who would receive what a shell "
            "pointed there sends.",
            hint="Start one on a free port with: gemini-oauth emulator --port 0",
        )
    if raw is None or owner is None:
        raise GeminiOAuthError(
            f"No emulator of yours is running on port {port}.",
            hint=f"Start one with: gemini-oauth emulator --port {port}",
        )
    click.echo(raw.decode(), nl=False)


def _listener(port: int) -> int | None:
    """The uid of the program listening on 127.0.0.1:``port`` (this user's where that cannot
    be told); None when nothing listens."""
    from gemini_oauth._peer import listener_uid

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    except OSError:
        return None
    owner = listener_uid(port)
    return os.geteuid() if owner is None else owner
