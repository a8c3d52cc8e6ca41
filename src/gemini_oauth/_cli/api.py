"""Calling Gemini: ``models list|get`` and ``generate`` (``curl`` is in ``curl.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from gemini_oauth._cli._options import (
    Connection,
    connection_options,
    echo_json,
    json_option,
    say,
    verbose_option,
)
from gemini_oauth._redact import json_for_terminal, terminal_text

# ---------------------------------------------------------------- models


def _cell(value: object) -> str:
    """A field from the API, fit for one cell: no control characters, tabs or newlines."""
    return " ".join(terminal_text(str(value)).split())


def model_row(model: dict[str, Any]) -> list[str]:
    """name, display name, input and output token limits, methods."""
    return [
        _cell(str(model.get("name", "")).removeprefix("models/")),
        _cell(model.get("displayName", "")),
        _cell(model.get("inputTokenLimit", "")),
        _cell(model.get("outputTokenLimit", "")),
        _cell(",".join(map(str, model.get("supportedGenerationMethods") or []))),
    ]


def _print_models(models: list[dict[str, Any]]) -> None:
    if not sys.stdout.isatty():
        for model in models:
            click.echo("\t".join(model_row(model)))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table("Name", "Display name", "Input", "Output", "Methods", box=None)
    for model in models:
        table.add_row(*(escape(cell) for cell in model_row(model)))
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
        say(f"More models: add --all, or --page-token {_cell(next_token)}")


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
        click.echo(f"{_cell(key)}: {_cell(shown)}")


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

    On a terminal, control characters in the answer (but tab and newline) are not printed.
    """
    from gemini_oauth._wire import text

    shown = terminal_text if sys.stdout.isatty() else str

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
                click.echo(shown(text(response)))
            return
        for chunk in api.stream_generate_content(model, contents, **fields):
            if as_json:
                click.echo(json_for_terminal(json.dumps(chunk, ensure_ascii=False)))
            else:
                click.echo(shown(text(chunk)), nl=False)
            sys.stdout.flush()
    if not as_json:
        click.echo()
