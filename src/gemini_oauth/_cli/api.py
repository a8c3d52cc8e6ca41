"""Calling Gemini: ``models list|get``, ``generate``, and ``curl`` with the OAuth headers added."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from gemini_oauth._cli._options import (
    Connection,
    connection_options,
    echo_json,
    exit_with,
    json_option,
    say,
    verbose_option,
)
from gemini_oauth.errors import GeminiOAuthError

# ---------------------------------------------------------------- models


def model_row(model: dict[str, Any]) -> list[str]:
    """name, display name, input and output token limits, methods."""
    return [
        str(model.get("name", "")).removeprefix("models/"),
        str(model.get("displayName", "")),
        str(model.get("inputTokenLimit", "")),
        str(model.get("outputTokenLimit", "")),
        ",".join(model.get("supportedGenerationMethods") or []),
    ]


def _print_models(models: list[dict[str, Any]]) -> None:
    if not sys.stdout.isatty():
        for model in models:
            click.echo("\t".join(model_row(model)))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("Name", "Display name", "Input", "Output", "Methods", box=None)
    for model in models:
        table.add_row(*model_row(model))
    Console().print(table)


@click.group()
@verbose_option
def models() -> None:
    """List the Gemini models your account can use, or show one."""


@models.command("list")
@click.option("--all", "all_pages", is_flag=True, help="Walk every page, not just the first.")
@click.option("--page-size", type=click.IntRange(1, 1000), help="Models per page.")
@click.option("--page-token", help="Start at this page (from a previous listing).")
@json_option("Print the raw model objects as JSON.")
@connection_options
@verbose_option
def list_models(
    conn: Connection,
    all_pages: bool,
    page_size: int | None,
    page_token: str | None,
    as_json: bool,
) -> None:
    """List models: a table on a terminal, tab-separated lines otherwise.

    \b
    Columns: name, display name, input and output token limits, methods.
    """
    with conn.client() as api:
        if all_pages:
            found, next_token = list(api.iter_models(page_size)), None
        else:
            page = api.list_models(page_size, page_token)
            found, next_token = page.models, page.next_page_token
    if as_json:
        echo_json(found)
    else:
        _print_models(found)
    if next_token:
        say(f"More models: add --all, or --page-token {next_token}")


@models.command("get")
@click.argument("name")
@json_option("Print the raw model object as JSON.")
@connection_options
@verbose_option
def get_model(conn: Connection, name: str, as_json: bool) -> None:
    """Show one model (NAME: gemini-2.5-flash or models/gemini-2.5-flash)."""
    with conn.client() as api:
        model = api.get_model(name)
    if as_json:
        echo_json(model)
        return
    for key, value in model.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        click.echo(f"{key}: {shown}")


# ---------------------------------------------------------------- generate


@click.command()
@click.argument("prompt", required=False)
@click.option("-m", "--model", default="gemini-2.5-flash", show_default=True, help="Model name.")
@click.option("--no-stream", is_flag=True, help="Wait for the whole answer instead of streaming.")
@click.option("--system", metavar="TEXT", help="A system instruction.")
@click.option("--max-output-tokens", type=click.IntRange(1), help="Cap the answer length.")
@click.option("--temperature", type=click.FloatRange(0.0, 2.0), help="Sampling temperature.")
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Upload this file (Files API), wait until it is ready, and prompt with it. Repeatable.",
)
@json_option("Print responses as JSON (one line per chunk).")
@connection_options
@verbose_option
def generate(
    conn: Connection,
    prompt: str | None,
    model: str,
    no_stream: bool,
    system: str | None,
    max_output_tokens: int | None,
    temperature: float | None,
    files: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Ask a model; the answer streams to stdout as it arrives. PROMPT '-' or none reads stdin.

    With --file, the files are uploaded first (kept 48 hours; see 'gemini-oauth files list').
    """
    from gemini_oauth._wire import text

    if prompt is None or prompt == "-":
        if sys.stdin.isatty():
            say("Type the prompt, then Ctrl-D (Ctrl-Z Enter on Windows):")
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise click.UsageError("Give a prompt (an argument, or text on stdin).")
    fields: dict[str, Any] = {}
    config = {"maxOutputTokens": max_output_tokens, "temperature": temperature}
    if any(v is not None for v in config.values()):
        fields["generationConfig"] = {k: v for k, v in config.items() if v is not None}
    if system:
        fields["systemInstruction"] = {"parts": [{"text": system}]}
    with conn.client() as api:
        contents: Any = prompt
        if files:
            from gemini_oauth._cli.files import upload_and_wait

            uploaded = [upload_and_wait(api, path) for path in files]
            parts = [
                {"fileData": {"fileUri": f["uri"], "mimeType": f["mimeType"]}} for f in uploaded
            ]
            contents = [*parts, prompt]
        if no_stream:
            response = api.generate_content(model, contents, **fields)
            if as_json:
                echo_json(response)
            else:
                click.echo(text(response))
            return
        for chunk in api.stream_generate_content(model, contents, **fields):
            if as_json:
                click.echo(json.dumps(chunk, ensure_ascii=False))
            else:
                click.echo(text(chunk), nl=False)
            sys.stdout.flush()
    if not as_json:
        click.echo()


# ---------------------------------------------------------------- curl


def _auth_headers(conn: Connection) -> dict[str, str]:
    from gemini_oauth._request_auth import (
        OAuthHeaders,
        resolve_credentials,
        resolve_quota_project,
    )
    from gemini_oauth._transport import HttpxRequest

    creds = resolve_credentials(profile=conn.profile, adc=conn.adc)
    request = HttpxRequest()
    try:
        oauth = OAuthHeaders(creds, resolve_quota_project(conn.quota_project, creds))
        headers = oauth.headers(request)
    finally:
        request.close()
    return {
        "Authorization": headers["authorization"],
        **({"x-goog-user-project": oauth.quota_project} if oauth.quota_project else {}),
    }


def curl_url(path: str, endpoint: str | None, api_version: str) -> str:
    """``models`` -> BASE/v1/models; ``/v1beta/models`` -> BASE/v1beta/models; URLs stay."""
    from urllib.parse import urlsplit

    from gemini_oauth._request_auth import resolve_base_url

    base = resolve_base_url(endpoint)
    if path.startswith(("https://", "http://")):
        url, ours = urlsplit(path), urlsplit(base)
        google = url.scheme == "https" and (url.hostname or "").endswith(".googleapis.com")
        if not google and (url.scheme, url.netloc) != (ours.scheme, ours.netloc):
            raise click.UsageError(
                f"Refusing to send your access token to {url.scheme}://{url.netloc}: it is "
                f"neither the API endpoint ({base}) nor a googleapis.com host. If you trust it, "
                "pass it as --endpoint."
            )
        return path
    path = path.lstrip("/")
    if not path.startswith(("v1/", "v1beta/")) and path not in ("v1", "v1beta"):
        path = f"{api_version}/{path}"
    return f"{base}/{path}"


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--print-headers",
    is_flag=True,
    help="Only print the headers, one per line "
    "(for: curl -H @<(gemini-oauth curl --print-headers) URL).",
)
@json_option("With --print-headers: print them as JSON.")
@connection_options
@click.argument("path", required=False)
@click.argument("curl_args", nargs=-1, type=click.UNPROCESSED)
def curl(
    conn: Connection,
    print_headers: bool,
    as_json: bool,
    path: str | None,
    curl_args: tuple[str, ...],
) -> None:
    """Run curl on PATH with the OAuth headers added; arguments after PATH go to curl as they are.

    This command's options come before PATH, curl's after it (so -v there is curl's; for this
    command's own logs, use 'gemini-oauth -v curl ...'). PATH may be 'models' (the
    --api-version is prefixed), '/v1beta/models', or a full URL on the API endpoint or a
    googleapis.com host.

    \b
    gemini-oauth curl /v1/models -sS
    gemini-oauth curl models/gemini-2.5-flash:generateContent \\
        -H 'Content-Type: application/json' -d '{"contents":[{"parts":[{"text":"Hi"}]}]}'

    The headers reach curl through a private temporary file, never its command line. curl sends
    them to every URL it is given: give it no URL but PATH.
    """
    if print_headers:
        headers = _auth_headers(conn)
        if as_json:
            echo_json(headers)
        else:
            for name, value in headers.items():
                click.echo(f"{name}: {value}")
        return
    if not path:
        raise click.UsageError("Give a PATH (e.g. /v1/models), or use --print-headers.")
    if path.startswith("-"):  # curl's option before PATH: curl would get the real URL unchecked
        raise click.UsageError(
            "curl's options go after PATH, this command's before it: "
            "gemini-oauth curl [OPTIONS] PATH [CURL_ARGS]..., e.g. gemini-oauth curl /v1/models -sS"
        )
    program = shutil.which("curl")
    if program is None:
        raise GeminiOAuthError(
            "curl was not found on PATH.",
            hint="Install curl, or use 'gemini-oauth curl --print-headers' with another client.",
        )
    url = curl_url(path, conn.endpoint, conn.api_version)
    headers = _auth_headers(conn)
    folder = tempfile.mkdtemp(prefix="gemini-oauth-")  # 0700
    header_file = os.path.join(folder, "headers")
    try:
        fd = os.open(header_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.writelines(f"{name}: {value}\n" for name, value in headers.items())
        code = subprocess.run([program, "-H", f"@{header_file}", url, *curl_args]).returncode
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if code:
        exit_with(code)
