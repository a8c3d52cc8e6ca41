"""Calling Gemini: ``models list|get`` and ``generate`` (``curl`` is in ``curl.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gemini_oauth._cli._options import (
    Connection,
    collect,
    connection_options,
    echo_json,
    exit_with,
    json_option,
    list_options,
    say,
    verbose_option,
)
from gemini_oauth._cli._output import cell_text, print_table, say_on_terminal, spinner
from gemini_oauth._redact import terminal_text

# ---------------------------------------------------------------- models


def model_row(model: dict[str, Any]) -> list[str]:
    """name, display name, input and output token limits, methods."""
    return [
        cell_text(str(model.get("name", "")).removeprefix("models/")),
        cell_text(model.get("displayName", "")),
        cell_text(model.get("inputTokenLimit", "")),
        cell_text(model.get("outputTokenLimit", "")),
        cell_text(",".join(map(str, model.get("supportedGenerationMethods") or []))),
    ]


_MODEL_COLUMNS = ("Name", "Display name", "Input", "Output", "Methods")
_MAX_MODEL_PAGE = 1000


@click.group(short_help="List the models your account can use, or show one.")
@verbose_option
def models() -> None:
    """List the Gemini models your account can use, or show one."""


@models.command("list", short_help="List every model: a table, or lines in a pipe.")
@list_options(what="models", max_page_size=_MAX_MODEL_PAGE)
@json_option("Print the model objects as a JSON array (every field, every model listed).")
@connection_options
@verbose_option
def list_models(
    conn: Connection,
    limit: int | None,
    page_size: int | None,
    page_token: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """List every model: a table on a terminal, tab-separated lines otherwise.

    \b
    Columns: name, display name, input and output token limits, methods. A narrow
    terminal keeps whole names and drops columns from the right.
    """
    with conn.client() as api, spinner("Listing models"):

        def fetch(size: int | None, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            page = api.list_models(size, token)
            return page.models, page.next_page_token

        found, more = collect(
            fetch,
            limit=limit,
            page_size=page_size,
            page_token=page_token,
            max_page_size=_MAX_MODEL_PAGE,
        )
    if as_json:
        echo_json(found)
    else:
        print_table(_MODEL_COLUMNS, [model_row(m) for m in found], name="models")
    if more:
        say_on_terminal(f"(The first {len(found)}; there are more: raise --limit.)")


@models.command("get")
@click.argument("name")
@json_option("Print the raw model object as JSON.")
@connection_options
@verbose_option
def get_model(conn: Connection, name: str, as_json: bool) -> None:
    """Show one model (NAME: gemini-2.5-flash or models/gemini-2.5-flash)."""
    with conn.client() as api, spinner(f"Asking for {cell_text(name)}"):
        model = api.get_model(name)
    if as_json:
        echo_json(model)
        return
    for key, value in model.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        click.echo(f"{cell_text(key)}: {cell_text(shown)}")


# ---------------------------------------------------------------- generate

#: Why an answer stopped early (finishReason), as a person reads it; others are named as is.
STOPPED = {
    "MAX_TOKENS": "it reached the output token limit",
    "SAFETY": "Google's safety filters stopped it",
    "RECITATION": "it recited its training data too closely",
    "BLOCKLIST": "it contained a blocked term",
    "PROHIBITED_CONTENT": "it was prohibited content",
    "SPII": "it contained sensitive personal information",
}


def stop_note(finish: str, limit: int | None) -> str | None:
    """The stderr note for an answer that ended for ``finish`` (None for a normal end)."""
    if finish in ("", "STOP", "FINISH_REASON_UNSPECIFIED"):
        return None
    why = STOPPED.get(finish, "it stopped early")
    note = f"note: the answer is incomplete: {why} ({cell_text(finish)})."
    if finish == "MAX_TOKENS":
        more = f"raise --max-output-tokens (now {limit})" if limit else "ask for a shorter answer"
        note = f"{note[:-1]}; {more}."
    return note


def _blocked(response: dict[str, Any]) -> str | None:
    """Why the prompt itself was refused (promptFeedback.blockReason), if it was."""
    feedback = response.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    return cell_text(reason) if reason else None


@click.command(short_help="Ask a model; the answer streams to stdout.")
@click.argument("prompt", required=False)
@click.option(
    "-m", "--model", metavar="NAME", default="gemini-2.5-flash", show_default=True, help="Model."
)
@click.option("--no-stream", is_flag=True, help="Wait for the whole answer instead of streaming.")
@click.option("--system", metavar="TEXT", help="A system instruction.")
@click.option(
    "--max-output-tokens", type=click.IntRange(1), metavar="N", help="Cap the answer length."
)
@click.option(
    "--temperature",
    type=click.FloatRange(0.0, 2.0),
    metavar="T",
    help="Sampling temperature, 0.0-2.0.",
)
@click.option(
    "--file",
    "files",
    multiple=True,
    metavar="PATH",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Upload this file (Files API), wait until it is ready, and prompt with it. Repeatable.",
)
@json_option(
    "Print the whole GenerateContentResponse as one JSON object (candidates with finishReason "
    "and safetyRatings, usageMetadata, modelVersion); the answer is not streamed."
)
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

    An answer cut short (MAX_TOKENS, SAFETY, RECITATION, ...) says so on stderr; a prompt that
    was blocked exits 4. With --file, the files are uploaded first (kept 48 hours; see
    'gemini-oauth files list'). On a terminal, control characters in the answer (but tab and
    newline) are not printed.
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
        asking = f"Asking {cell_text(model)}"
        if no_stream or as_json:
            with spinner(asking):
                response = api.generate_content(model, contents, **fields)
            if as_json:
                echo_json(response)
            else:
                click.echo(shown(text(response)))
            last = response
        else:
            chunks = api.stream_generate_content(model, contents, **fields)
            with spinner(asking):  # until the first chunk
                last = next(chunks, {})
            click.echo(shown(text(last)), nl=False)
            sys.stdout.flush()
            for chunk in chunks:
                click.echo(shown(text(chunk)), nl=False)
                sys.stdout.flush()
                last = chunk
            click.echo()
    _say_how_it_ended(last, max_output_tokens)


def _say_how_it_ended(response: dict[str, Any], limit: int | None) -> None:
    """A note for an answer cut short; an error (exit 4) for a prompt that was blocked."""
    blocked = _blocked(response)
    if blocked and not response.get("candidates"):
        say(f"error: the prompt was blocked ({blocked}); the model did not answer.")
        say("  Rephrase it, or see https://ai.google.dev/gemini-api/docs/safety-settings")
        exit_with(4)
    candidates = response.get("candidates") or [{}]
    first = candidates[0] if isinstance(candidates[0], dict) else {}
    note = stop_note(str(first.get("finishReason") or ""), limit)
    if note:
        say(note)
