"""`gemini-oauth demo`: the quickstart's whole story against the embedded emulator.

Every step runs the library code that a real login and real API calls use; only the URLs (from
the emulator's client_secret.json and base URL) differ. The browser step is done by the built-in
headless user agent, which approves the consent page over HTTP. Everything lives in a temporary
home deleted at the end, so nothing of the user's own credentials is read or touched.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from gemini_oauth._cli._options import exit_with, verbose_option
from gemini_oauth._constants import CREDENTIALS_ENV, HOME_ENV, QUOTA_PROJECT_ENV
from gemini_oauth._extras import install_hint
from gemini_oauth.errors import GeminiOAuthError


@contextmanager
def _temporary_home() -> Iterator[Path]:
    """A private temp dir set as $GEMINI_OAUTH_HOME for the demo's duration, then removed."""
    saved = {k: os.environ.get(k) for k in (HOME_ENV, QUOTA_PROJECT_ENV)}
    with tempfile.TemporaryDirectory(prefix="gemini-oauth-demo-") as tmp:
        os.environ[HOME_ENV] = str(Path(tmp) / "home")
        os.environ.pop(QUOTA_PROJECT_ENV, None)
        try:
            yield Path(tmp)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@click.command(short_help="The whole story against a local emulator, unattended.")
@click.option(
    "--model", metavar="NAME", default="gemini-2.5-flash", show_default=True, help="Model to ask."
)
@click.option(
    "--prompt",
    metavar="TEXT",
    default="In one sentence, what is OAuth?",
    show_default=True,
    help="What to ask the model.",
)
@verbose_option
def demo(model: str, prompt: str) -> None:
    """Run the quickstart's whole story against a local emulator, unattended.

    Starts the embedded emulator of Google's OAuth and Gemini endpoints, writes its
    client_secret.json, logs in (a headless user agent approves the consent page), shows the
    token cache, lists models, generates an answer, lets the access token expire and refreshes it,
    and revokes the grant. It uses a temporary home: your own credentials are never touched.
    Needs the [emulator] extra.
    """
    try:
        from gemini_oauth.emulator import Emulator
    except ImportError as exc:
        raise GeminiOAuthError(
            f"The emulator is not installed ({exc.name} is missing).",
            hint=install_hint("emulator"),
        ) from None
    from rich.console import Console

    from gemini_oauth._client import GeminiClient
    from gemini_oauth._credentials import login, revoke_and_delete
    from gemini_oauth._store import profile_file
    from gemini_oauth._useragent import HeadlessUserAgent
    from gemini_oauth._wire import text
    from gemini_oauth.scopes import DEFAULT_SCOPES, short_name

    out = Console(highlight=False, soft_wrap=True)
    started = time.monotonic()
    step_no = 0

    def step(title: str, command: str | None = None) -> None:
        nonlocal step_no
        step_no += 1
        out.print(f"\n[bold cyan]{step_no}. {title}[/]")
        if command:
            out.print(f"   [dim]like: {command}[/]")

    with _temporary_home() as tmp, Emulator() as emu:
        step("Start the emulator of Google's OAuth and Gemini endpoints", "gemini-oauth emulator")
        out.print(f"   listening on {emu.base_url} (loopback only)")

        step("Write its Desktop-app client file", "gemini-oauth emulator --write-client-secret F")
        secret_path = emu.write_client_secret(tmp / "client_secret.json")
        out.print(f"   {secret_path} (client {emu.client_id})")

        step(
            "Log in: loopback redirect with PKCE; a headless user agent approves the consent page",
            f"gemini-oauth login --client-secret {secret_path.name}",
        )
        agent = HeadlessUserAgent()
        credentials = login(
            secret_path, DEFAULT_SCOPES, open_browser=agent, out=sys.stderr, timeout=60
        )
        agent.join(timeout=10)
        out.print(f"   signed in as {credentials.account or '(unknown)'}")
        granted = ", ".join(short_name(s) for s in credentials.granted_scopes or ())
        out.print(f"   scopes granted: {granted}")

        step("Where the token is cached, and who may read it", "gemini-oauth status")
        cache = profile_file("default").path
        out.print(f"   {cache}  file {_mode(cache)}, directory {_mode(cache.parent)}")
        out.print(f"   a valid authorized_user file: {CREDENTIALS_ENV} can point at it")

        with GeminiClient(credentials, base_url=emu.base_url) as client:
            step("List models", "gemini-oauth models list")
            names = [m["name"] for m in client.iter_models()]
            shown = ", ".join(n.removeprefix("models/") for n in names[:5])
            out.print(f"   {len(names)} models, e.g. {shown}, ...")

            step("Generate a short answer", f'gemini-oauth generate "{prompt}"')
            out.print(f"   [green]{text(client.generate_content(model, prompt)).strip()}[/]")

            step("Force the access token to expire, and watch one refresh happen")
            before = emu.control.counters().get("token.refresh_token", 0)
            emu.control.advance_clock(3700)
            out.print("   the emulator's clock moved 3700 s ahead: the token is now expired there")
            answer = text(client.generate_content(model, "Are you still there?")).strip()
            refreshes = emu.control.counters().get("token.refresh_token", 0) - before
            out.print(
                f"   401 -> refreshed ({refreshes} refresh at the token endpoint) -> {answer}"
            )

        step("Revoke the grant and delete the cache (RFC 7009)", "gemini-oauth logout")
        revoke_and_delete(profile_file("default"))
        out.print(f"   revoked at the server; cache deleted: {not cache.exists()}")
        try:
            with GeminiClient(credentials, base_url=emu.base_url, max_attempts=1) as client:
                client.list_models(page_size=1)
            out.print("   [red]the revoked token still worked: this is a bug[/]")
            exit_with(1)
        except GeminiOAuthError as exc:
            out.print(f"   the old credentials are refused now: {type(exc).__name__}")

    out.print(
        f"\n[bold green]Done in {time.monotonic() - started:.1f} s.[/] "
        "Next: put your own client_secret.json here and run: gemini-oauth login"
    )
