"""``gemini-oauth curl``: curl with the OAuth headers, which reach the one URL that was checked.

- PATH is checked (``_urls.checked_url``: https, or http on this machine; RFC 3986 characters, no
  userinfo) and must be on the API endpoint or an https googleapis.com host. curl gets it rebuilt,
  with globbing off, as its only URL.
- curl's arguments after PATH are read with curl's own grammar, taken from ``curl --help all`` of
  the curl that runs (long options may be abbreviated, letters bundled). Refused: a word that is
  not an option (curl takes it for a second URL), ``--``, an unknown or ambiguous option, options
  that add a target or send the request elsewhere (``REFUSED``), those that write the request
  headers somewhere, and ``-D``, which this command uses. ``~/.curlrc`` is not read (``-q``).
- The headers reach curl through a pipe (``-H @/dev/fd/N``): never the disk, never argv. curl's
  stderr passes through ``redact`` (its ``-v`` shows the request headers).
- As ``gh api``: no progress meter; an HTTP status of 400 or more exits 4 after the body is shown;
  ``-i`` includes the response headers. SIGTERM, SIGHUP and SIGINT are passed on to curl.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import IO

import click

from gemini_oauth._cli._options import (
    Connection,
    connection_options,
    echo_json,
    exit_with,
    json_option,
    say,
)
from gemini_oauth.errors import GeminiOAuthError

_TARGETS = "would send the request, and your token, to another URL"
_ELSEWHERE = "would send the request, and your token, to another server"
_WRITES = "would write the request headers, and your token, where the redaction cannot reach"
#: curl options (curl's internal long names) that this command refuses, and why.
REFUSED: dict[str, str] = {
    "url": _TARGETS,
    "next": _TARGETS,
    "config": "reads options from a file, which may name another URL",
    "proxy": _ELSEWHERE,
    "preproxy": _ELSEWHERE,
    "socks4": _ELSEWHERE,
    "socks4a": _ELSEWHERE,
    "socks5": _ELSEWHERE,
    "socks5-hostname": _ELSEWHERE,
    "connect-to": _ELSEWHERE,
    "resolve": _ELSEWHERE,
    "unix-socket": _ELSEWHERE,
    "abstract-unix-socket": _ELSEWHERE,
    "location-trusted": "would send your token to the hosts of redirects too",
    "insecure": "would send your token to a server whose certificate is not checked",
    "trace": _WRITES,
    "trace-ascii": _WRITES,
    "libcurl": _WRITES,
    "stderr": _WRITES,
    "dump-header": "is how this command reads the HTTP status; use -i to include the headers",
    "help": "is curl's own help: run 'curl --help'",
    "manual": "is curl's own manual: run 'curl --manual'",
    "version": "is curl's own version: run 'curl --version'",
}
#: curl exit codes that mean the server was not reached (resolve, connect, TLS, timeout, reset).
_UNREACHED = frozenset({5, 6, 7, 28, 35, 52, 55, 56, 60})
_MIN_VERSION = (7, 73, 0)  # --help all (7.73), -H @file (7.55), --no-progress-meter (7.67)
_HELP_LINE = re.compile(r"^\s*(?:(-\S), )?--([a-z0-9][a-z0-9.-]*)(\s+<[^>]*>)?", re.I)
_STATUS_LINE = re.compile(rb"^HTTP/[0-9.]+ ([0-9]{3})(?: ([^\r\n]*))?", re.M)
_MAX_HEADERS = 1 << 20


# ---------------------------------------------------------------- curl's grammar


@dataclass(frozen=True)
class CurlGrammar:
    """Which options a curl binary knows (by internal long name), and which take a value."""

    takes_value: dict[str, bool]
    letters: dict[str, str]
    version: tuple[int, int, int]


def read_grammar(help_text: str, version_text: str) -> CurlGrammar:
    """The grammar from ``curl --help all`` and ``curl --version``.

    A help entry ``--no-X`` is curl's boolean ``X`` (``--X`` and ``--no-X`` both work).
    """
    takes_value: dict[str, bool] = {}
    letters: dict[str, str] = {}
    for line in help_text.splitlines():
        found = _HELP_LINE.match(line)
        if not found:
            continue
        letter, name, value = found.group(1), found.group(2).lower(), bool(found.group(3))
        if name.startswith("no-") and not value:
            name = name[3:]
        takes_value[name] = value
        if letter:
            letters[letter[1]] = name
    numbers = re.match(r"curl (\d+)\.(\d+)\.(\d+)", version_text)
    version = tuple(int(n) for n in numbers.groups()) if numbers else (0, 0, 0)
    return CurlGrammar(takes_value, letters, (version[0], version[1], version[2]))


def load_grammar(program: str) -> CurlGrammar:
    """Ask the curl that will run for its options and version; refuse one too old to be read."""

    def ask(*args: str) -> str:
        try:
            done = subprocess.run(
                [program, *args], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout

    grammar = read_grammar(ask("--help", "all"), ask("--version"))
    if grammar.version < _MIN_VERSION or "url" not in grammar.takes_value:
        shown = ".".join(map(str, grammar.version)) if grammar.version[0] else "unknown"
        raise GeminiOAuthError(
            f"The curl at {program} is too old (version {shown}; 7.73 or later is needed to "
            "check its arguments).",
            hint="Install a newer curl, or use 'gemini-oauth curl --print-headers' with "
            "another client.",
        )
    return grammar


def _long_option(grammar: CurlGrammar, word: str) -> tuple[str, bool]:
    """curl's option for ``--word`` (case-insensitive; a unique prefix will do, as in curl) and
    whether it takes a value; UsageError for an unknown or ambiguous one."""
    name = word.lower()
    negated = name.startswith("no-")
    if negated:
        name = name[3:]
    if name not in grammar.takes_value:
        hits = [known for known in grammar.takes_value if known.startswith(name)]
        if len(hits) != 1:
            what = "is ambiguous" if hits else "is not an option of this curl"
            raise click.UsageError(f"curl's --{word} {what}; refusing to run curl.")
        name = hits[0]
    if negated and grammar.takes_value[name]:
        raise click.UsageError(f"curl's --{word}: --no- before an option that takes a value.")
    return name, grammar.takes_value[name] and not negated


def _options(args: tuple[str, ...], grammar: CurlGrammar) -> Iterator[str]:
    """curl's options among ``args``, by internal name, with the values they take skipped.

    Anything curl would read as a URL is a UsageError, as is an option missing its value.
    """
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--" or not word.startswith("-") or word == "-":
            raise click.UsageError(
                f"Refusing {word!r}: it is not an option, so curl would take it for another URL "
                "and send it your token too. Give the URL as PATH only, curl's options after it."
            )
        if word.startswith("--"):
            found = [_long_option(grammar, word[2:])]
        else:
            found = []
            for at, letter in enumerate(word[1:], start=1):
                name = grammar.letters.get(letter, "")
                if not name:
                    raise click.UsageError(f"curl's -{letter} is not an option of this curl.")
                # -dVALUE: the rest of the word is the value; -d VALUE: the next word is
                found.append((name, grammar.takes_value[name] and at == len(word) - 1))
                if grammar.takes_value[name]:
                    break
        for name, value_follows in found:
            yield name
            if value_follows:
                if i >= len(args):
                    raise click.UsageError(f"curl's {word} needs a value.")
                i += 1


def check_curl_args(args: tuple[str, ...], grammar: CurlGrammar) -> None:
    """Refuse curl arguments that could take the token anywhere but the checked URL."""
    for name in _options(args, grammar):
        if name in REFUSED:
            raise click.UsageError(f"curl's --{name} {REFUSED[name]}; refusing to run curl.")
        if name == "location" and grammar.version < (7, 83, 0):  # CVE-2022-27776
            raise click.UsageError(
                "this curl (older than 7.83) resends custom headers after redirects to another "
                "port or protocol, so -L could leak your token; update curl, or drop -L."
            )


# ---------------------------------------------------------------- the URL


def curl_url(path: str, endpoint: str | None, api_version: str) -> str:
    """``models`` -> BASE/v1/models; ``/v1beta/models`` -> BASE/v1beta/models; URLs are checked
    (same origin as the API endpoint, or https on a googleapis.com host) and rebuilt."""
    from urllib.parse import urlsplit

    from gemini_oauth._request_auth import resolve_base_url
    from gemini_oauth._urls import checked_url, host_of

    base = resolve_base_url(endpoint)
    full = path
    if not path.lower().startswith(("https://", "http://")):
        full = path.lstrip("/")
        if not full.startswith(("v1/", "v1beta/")) and full not in ("v1", "v1beta"):
            full = f"{api_version}/{full}"
        full = f"{base}/{full}"
    try:
        url = checked_url(full)
    except ValueError as exc:
        raise click.UsageError(f"Refusing to send your access token to {path!r}: {exc}.") from None
    origin, ours = urlsplit(url)[:2], urlsplit(base)[:2]
    google = url.startswith("https://") and host_of(url).endswith(".googleapis.com")
    if not google and origin != ours:
        raise click.UsageError(
            f"Refusing to send your access token to {origin[0]}://{origin[1]}: it is neither the "
            f"API endpoint ({base}) nor a googleapis.com host. If you trust it, pass it as "
            "--endpoint."
        )
    return url


# ---------------------------------------------------------------- running curl


def _auth_headers(conn: Connection) -> dict[str, str]:
    from gemini_oauth._request_auth import OAuthHeaders, resolve_quota_project
    from gemini_oauth._transport import HttpxRequest

    creds = conn.credentials()  # falling back to ADC unasked is said on stderr
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


def _redacted_copy(source: IO[bytes], sink: IO[str]) -> None:
    """curl's stderr, line by line through ``redact`` (a line ends in LF or CR, as a progress
    bar's do); a prompt without either is shown after 0.2 s."""
    from gemini_oauth._redact import redact

    def show(text: bytes) -> None:
        sink.write(redact(text.decode("utf-8", "replace")))
        sink.flush()

    pending = b""
    fd = source.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], 0.2 if pending else None)
        if not ready:  # a partial line that stays partial: a prompt
            show(pending)
            pending = b""
            continue
        chunk = os.read(fd, 65536)
        pending += chunk
        end = max(pending.rfind(b"\n"), pending.rfind(b"\r")) + 1
        if end:
            lines = re.split(rb"(?<=[\r\n])", pending[:end])
            sink.write("".join(redact(line.decode("utf-8", "replace")) for line in lines))
            sink.flush()
            pending = pending[end:]
        if not chunk:
            if pending:
                show(pending)
            return


def _collect(fd: int, into: bytearray) -> None:
    with os.fdopen(fd, "rb") as stream:
        while chunk := stream.read(65536):
            if len(into) < _MAX_HEADERS:
                into += chunk


@contextlib.contextmanager
def _passing_signals_to(proc: subprocess.Popen[bytes]) -> Iterator[list[int]]:
    """While curl runs, SIGTERM, SIGHUP and SIGINT go to it; yields the signals received."""
    received: list[int] = []

    def forward(signum: int, _: FrameType | None) -> None:
        received.append(signum)
        with contextlib.suppress(OSError):
            proc.send_signal(signum)

    kinds = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None), signal.SIGINT) if s]
    if threading.current_thread() is not threading.main_thread():
        yield received  # only the main thread may handle signals; curl still gets Ctrl-C
        return
    previous = {kind: signal.signal(kind, forward) for kind in kinds}
    try:
        yield received
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)


def run_curl(program: str, url: str, headers: dict[str, str], args: tuple[str, ...]) -> int:
    """Run curl on ``url`` with ``headers`` through a pipe; this command's exit code."""
    payload = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()
    if len(payload) > 16384 or any(c in "\r\n" for v in headers.values() for c in v):
        raise GeminiOAuthError("The request headers are malformed; refusing to run curl.")
    head_r, head_w = os.pipe()
    dump_r, dump_w = os.pipe()
    try:
        os.write(head_w, payload)  # far below a pipe's buffer: never blocks
    finally:
        os.close(head_w)
    argv = [program, "-q", "--globoff", "--no-progress-meter", "-H", f"@/dev/fd/{head_r}"]
    argv += ["-D", f"/dev/fd/{dump_w}", "--url", url, *args]
    try:
        proc = subprocess.Popen(argv, pass_fds=(head_r, dump_w), stderr=subprocess.PIPE)
    finally:
        os.close(head_r)
        os.close(dump_w)
    dumped = bytearray()
    assert proc.stderr is not None
    readers = [
        threading.Thread(target=_collect, args=(dump_r, dumped), daemon=True),
        threading.Thread(target=_redacted_copy, args=(proc.stderr, sys.stderr), daemon=True),
    ]
    with _passing_signals_to(proc) as received:
        for reader in readers:
            reader.start()
        code = proc.wait()
        for reader in readers:
            reader.join(10)
    proc.stderr.close()
    if code < 0 or received:
        signum = -code if code < 0 else received[0]
        return 130 if signum == signal.SIGINT else 128 + signum
    return _outcome(code, bytes(dumped))


def _outcome(code: int, dumped: bytes) -> int:
    """The exit code: 4 for an HTTP error status (or no answer at all), curl's failures as 1."""
    from gemini_oauth._redact import server_text

    statuses = _STATUS_LINE.findall(dumped)
    if statuses:
        status, reason = statuses[-1]
        if int(status) >= 400:
            shown = server_text(reason.decode("latin-1"), 60)
            say(f"error: the API answered HTTP {int(status)}{' ' + shown if shown else ''}.")
            return 4
    if code == 0:
        return 0
    if code in _UNREACHED:
        say(f"error: curl could not reach the API (curl's exit code {code}; its message is above).")
        return 4
    say(f"error: curl failed with exit code {code}; its message is above.")
    return 1


@click.command(
    short_help="curl the Gemini API with the OAuth headers added.",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--print-headers",
    is_flag=True,
    help="Only print the headers, one per line "
    "(for: curl -H @<(gemini-oauth curl --print-headers) URL).",
)
@json_option("With --print-headers: print them as JSON.")
@click.option("-i", "--include", is_flag=True, help="Include the response headers in the output.")
@connection_options(retries=False)
@click.argument("path", required=False)
@click.argument("curl_args", nargs=-1, type=click.UNPROCESSED)
def curl(
    conn: Connection,
    print_headers: bool,
    as_json: bool,
    include: bool,
    path: str | None,
    curl_args: tuple[str, ...],
) -> None:
    """Run curl on PATH with the OAuth headers added; arguments after PATH go to curl.

    This command's options come before PATH, curl's after it (so -v there is curl's, its
    output redacted; for this command's own logs, use 'gemini-oauth -v curl ...'). PATH may be
    'models' (the --api-version is prefixed), '/v1beta/models', or a full URL on the API
    endpoint or a googleapis.com host.

    \b
    gemini-oauth curl /v1/models
    gemini-oauth curl models/gemini-2.5-flash:generateContent \\
        -H 'Content-Type: application/json' \\
        -d '{"contents":[{"parts":[{"text":"Hi"}]}]}'

    The token goes to PATH only: curl's arguments may not name another URL, a config file,
    a proxy or another address (--url, -K, --next, -x, --resolve, --connect-to, -k, ...).
    The headers reach curl through a pipe, never a file or its command line; ~/.curlrc is
    not read. An HTTP status of 400 or more exits 4 after showing the body; curl failing to
    reach the API exits 4 too, its other failures 1.
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
    if not os.path.isdir("/dev/fd"):
        raise GeminiOAuthError(
            "This system has no /dev/fd, through which the headers reach curl without touching "
            "the disk.",
            hint="Use 'gemini-oauth curl --print-headers' with your HTTP client instead.",
        )
    url = curl_url(path, conn.endpoint, conn.api_version)
    check_curl_args(curl_args, load_grammar(program))
    code = run_curl(program, url, _auth_headers(conn), (("-i",) if include else ()) + curl_args)
    if code:
        exit_with(code)
