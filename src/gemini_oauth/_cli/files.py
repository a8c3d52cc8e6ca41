"""``files upload|list|get|delete|register`` (the Files API) and ``embed TEXT``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gemini_oauth._cli._options import (
    Connection,
    collect,
    connection_options,
    echo_json,
    json_option,
    list_options,
    say,
    verbose_option,
    yes_option,
)
from gemini_oauth._cli._output import print_table, say_on_terminal, spinner

if TYPE_CHECKING:
    from gemini_oauth._client import GeminiClient

_COLUMNS = ("name", "displayName", "mimeType", "sizeBytes", "state", "expirationTime")


def shown(value: object) -> str:
    """A server's value as one printable line (no terminal escapes: the server is untrusted)."""
    from gemini_oauth._redact import server_text

    return server_text(value, limit=500)


def file_row(file: dict[str, Any]) -> list[str]:
    """name, display name, MIME type, size, state, expiry."""
    return [shown(file.get(key, "")) for key in _COLUMNS]


def _print_file(file: dict[str, Any]) -> None:
    for key, value in file.items():
        click.echo(f"{shown(key)}: {shown(value)}")


@contextmanager
def upload_progress(path: Path) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal; None (silence) otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(f"Uploading {path.name}", total=path.stat().st_size)
        yield lambda sent, total: bar.update(task, completed=sent, total=total)


def upload_and_wait(
    api: GeminiClient,
    path: Path,
    *,
    mime_type: str | None = None,
    display_name: str | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """Upload ``path`` (with a progress bar on a terminal); wait until ACTIVE if asked."""
    with upload_progress(path) as progress:
        file = api.upload_file(
            path, mime_type=mime_type, display_name=display_name, progress=progress
        )
    if wait and file.get("state") != "ACTIVE":
        say(f"Waiting for {shown(file.get('name'))} to be processed...")
        with spinner(f"{shown(file.get('name'))} is {shown(file.get('state'))}"):
            file = api.wait_active(file)
    return file


@click.group(short_help="Upload files for prompts; list and manage them.")
@verbose_option
def files() -> None:
    """Upload files for prompts, list, show and delete them, or register gs:// objects.

    Uploaded files are kept 48 hours; a project holds up to 20 GB, a file up to 2 GB.
    """


@files.command("upload", short_help="Upload a file (resumable); print its name.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mime-type", metavar="TYPE", help="MIME type (default: guessed from the name).")
@click.option("--display-name", metavar="TEXT", help="A name to show in listings.")
@click.option("--no-wait", is_flag=True, help="Return at once, even while still PROCESSING.")
@json_option("Print the File as JSON.")
@connection_options
@verbose_option
def upload(
    conn: Connection,
    path: Path,
    mime_type: str | None,
    display_name: str | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Upload PATH (resumable; a dropped connection resumes where it stopped); print its name."""
    with conn.client() as api:
        file = upload_and_wait(
            api, path, mime_type=mime_type, display_name=display_name, wait=not no_wait
        )
    if as_json:
        echo_json(file)
        return
    click.echo(shown(file.get("name", "")))
    state, mime, size = (shown(file.get(k)) for k in ("state", "mimeType", "sizeBytes"))
    say(f"{state} {mime}, {size} bytes, uri {shown(file.get('uri'))}")


_FILE_HEADERS = ("Name", "Display name", "MIME type", "Bytes", "State", "Expires")
_MAX_FILE_PAGE = 100


@files.command("list", short_help="List your files, newest first.")
@list_options(what="files", max_page_size=_MAX_FILE_PAGE)
@json_option("Print the File objects as a JSON array (every file listed).")
@connection_options
@verbose_option
def list_files(
    conn: Connection,
    limit: int | None,
    page_size: int | None,
    page_token: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """List your files, newest first: a table on a terminal, tab-separated lines otherwise.

    \b
    Columns: name, display name, MIME type, bytes, state, expiry.
    """
    with conn.client() as api, spinner("Listing files"):

        def fetch(size: int | None, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            page = api.list_files(size, token)
            return page.files, page.next_page_token

        found, more = collect(
            fetch,
            limit=limit,
            page_size=page_size,
            page_token=page_token,
            max_page_size=_MAX_FILE_PAGE,
        )
    if as_json:
        echo_json(found)
    elif found:
        print_table(_FILE_HEADERS, [file_row(f) for f in found], name="files")
    else:
        say("No files. Upload one with: gemini-oauth files upload PATH")
    if more:
        say_on_terminal(f"(The first {len(found)}; there are more: raise --limit.)")


@files.command("get")
@click.argument("name")
@json_option("Print the File as JSON.")
@connection_options
@verbose_option
def get_file(conn: Connection, name: str, as_json: bool) -> None:
    """Show one file (NAME: files/abc, abc, or its uri)."""
    with conn.client() as api, spinner(f"Asking for {shown(name)}"):
        file = api.get_file(name)
    if as_json:
        echo_json(file)
    else:
        _print_file(file)


@files.command("delete")
@click.argument("names", metavar="NAME...", nargs=-1, required=True)
@yes_option
@json_option("Print the names deleted as JSON.")
@connection_options
@verbose_option
def delete_files(conn: Connection, names: tuple[str, ...], yes: bool, as_json: bool) -> None:
    """Delete files now (they go by themselves 48 hours after upload)."""
    from gemini_oauth._cli._options import confirm

    shown = ", ".join(names)
    confirm(f"Delete {shown}?", action="delete files", yes=yes)
    deleted = []
    with conn.client() as api, spinner("Deleting"):
        for name in names:
            api.delete_file(name)
            deleted.append(name)
            if not as_json:
                say(f"Deleted {name}.")
    if as_json:
        echo_json({"deleted": deleted})


@files.command("register", short_help="Let Gemini read gs:// objects in place.")
@click.argument("uris", metavar="gs://BUCKET/OBJECT...", nargs=-1, required=True)
@json_option("Print the File objects as JSON.")
@connection_options
@verbose_option
def register_files(conn: Connection, uris: tuple[str, ...], as_json: bool) -> None:
    """Let Gemini read Cloud Storage objects in place; print the file names to prompt with.

    Needs a login with a Cloud Storage scope (cloud-platform, the default, or
    devstorage.read_only), and a bucket that grants the Gemini API service agent read access.
    """
    bad = [u for u in uris if not u.startswith("gs://") or "/" not in u[5:]]
    if bad:
        raise click.UsageError(f"Not a gs://BUCKET/OBJECT URI: {bad[0]}")
    with conn.client() as api, spinner("Registering"):
        registered = api.register_files(list(uris))
    if as_json:
        echo_json(registered)
        return
    for file in registered:
        click.echo(shown(file.get("name", "")))


# ---------------------------------------------------------------- embed

#: embedContent's taskType values.
TASK_TYPES = (
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)


@click.command(short_help="Embed texts: one vector per line.")
@click.argument("texts", metavar="TEXT...", nargs=-1)
@click.option(
    "-m",
    "--model",
    metavar="NAME",
    default="gemini-embedding-001",
    show_default=True,
    help="Embedding model.",
)
@click.option(
    "--task-type",
    metavar="TYPE",
    type=click.Choice(TASK_TYPES, case_sensitive=False),
    help="What the embedding is for: " + ", ".join(TASK_TYPES) + ".",
)
@click.option(
    "--dimensions",
    type=click.IntRange(1),
    metavar="N",
    help="Output dimensionality (vectors cut to N).",
)
@json_option('Print {"model", "embeddings": [[...], ...]} as JSON.')
@connection_options
@verbose_option
def embed(
    conn: Connection,
    texts: tuple[str, ...],
    model: str,
    task_type: str | None,
    dimensions: int | None,
    as_json: bool,
) -> None:
    """Embed each TEXT (none or '-': one per line of stdin); print one vector per line."""
    import json

    items = list(texts)
    if not items or items == ["-"]:
        if sys.stdin.isatty():
            say("Type one text per line, then Ctrl-D (Ctrl-Z Enter on Windows):")
        items = [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not items:
        raise click.UsageError("Give a TEXT (an argument, or lines on stdin).")
    with conn.client() as api, spinner(f"Embedding with {shown(model)}"):
        vectors = api.batch_embed_contents(
            model,
            items,
            task_type=task_type.upper() if task_type else None,
            output_dimensionality=dimensions,
        )
    if as_json:
        echo_json({"model": model, "embeddings": vectors})
        return
    for vector in vectors:
        click.echo(json.dumps(vector))
