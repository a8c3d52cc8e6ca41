"""What the commands share, defined once: options, the API connection, and how they talk and exit.

Every command takes ``-v/--verbose`` (shown in its --help) except ``curl``, whose arguments after
PATH are curl's own (``-v`` included). Data goes to stdout, conversation to stderr (``say``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, NoReturn, ParamSpec, TypeVar, overload

import click
from click.core import ParameterSource

from gemini_oauth._cli import _debug, _output
from gemini_oauth._constants import (
    BASE_URL_ENV,
    CACHE_URL_ENV,
    CLIENT_SECRET_ENV,
    CREDENTIALS_ENV,
    DEBUG_ENV,
    PROFILE_ENV,
    QUOTA_PROJECT_ENV,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from gemini_oauth._client import GeminiClient

P = ParamSpec("P")
R = TypeVar("R")
FC = TypeVar("FC", bound="Callable[..., Any] | click.Command")

#: The profile used when neither --profile, $GEMINI_OAUTH_PROFILE nor `profiles use` names one.
DEFAULT_PROFILE = "default"
#: How often the API commands send a request at most, unless --max-attempts says otherwise.
DEFAULT_ATTEMPTS = 4


# ---------------------------------------------------------------- talking and exiting


def say(text: str) -> None:
    """Conversation: to stderr, so stdout stays data (above a spinner, if one turns)."""
    _output.say(text)


def echo_json(data: Any) -> None:
    """The one JSON shape of --json output: indented, UTF-8 as is (C1 controls escaped)."""
    from gemini_oauth._redact import json_for_terminal

    click.echo(json_for_terminal(json.dumps(data, indent=2, ensure_ascii=False)))


def exit_with(code: int) -> NoReturn:
    """End the command with this exit code, after it has said why (errors raise instead)."""
    raise click.exceptions.Exit(code)


def confirm(question: str, *, action: str, yes: bool) -> None:
    """Ask on the terminal unless --yes; without a terminal, refuse (exit 2) rather than guess."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"Refusing to {action} without a terminal to ask on; add --yes.")
    click.confirm(question, abort=True, err=True)


@contextlib.contextmanager
def client_file_fix(command: str) -> Iterator[None]:
    """A client file that is missing or not a Desktop client: its hint ends with ``command``
    and a --client-secret to fill in (the command that works once the file is there)."""
    from gemini_oauth.errors import ClientSecretError

    try:
        yield
    except ClientSecretError as exc:
        exc.hint = f"{exc.hint} Then run: {command} --client-secret PATH/TO/client_secret.json"
        raise


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def say_what_else_ends(data: dict[str, Any], *, profile: str | None = None) -> None:
    """Before a revocation: name the other saved logins (profiles, the ADC file) it ends too,
    since Google revokes an account's access to an OAuth client whole (see ``_logout``)."""
    from gemini_oauth._logout import ended_with, saved_logins

    others = saved_logins(skip_profile=profile, skip_adc=profile is None)
    ended = ended_with(data, others)
    if ended:
        who = data.get("account") or "this account"
        say(
            f"note: Google ends every sign-in of {who} to this OAuth client at once, so "
            f"{_and(ended)} will need a new login too."
        )


# ---------------------------------------------------------------- simple options


def _start_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value or _debug.requested_by_env():
        _debug.start_debug_logging()


#: ``-v/--verbose`` on the root and on every command but curl.
verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_start_verbose,
    help=f"Log HTTP and auth details to stderr, secrets redacted (or set {DEBUG_ENV}=1).",
)

#: ``-y/--yes``, for the commands that ask before destroying something.
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


def json_option(help: str) -> Callable[[FC], FC]:
    """``--json`` (parameter ``as_json``); ``help`` says what is printed."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def _default_profile() -> str:
    from gemini_oauth._store import default_profile

    return default_profile()


def checked_profile(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A profile name that is not one is bad usage (exit 2), before anything is read."""
    from gemini_oauth._paths import valid_profile_name

    if isinstance(value, str) and not valid_profile_name(value):
        source = ctx.get_parameter_source(param.name or "")
        whence = f" (from ${PROFILE_ENV})" if source is ParameterSource.ENVIRONMENT else ""
        raise click.BadParameter(
            f"{value!r}{whence} is not a profile name: use 1-64 letters, digits, '.', '_' or "
            "'-', not starting with '.'.",
            ctx=ctx,
            param=param,
        )
    return value


def checked_quota_project(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A quota project that is not a project id is bad usage (exit 2), before any login is read
    ('' means none)."""
    from gemini_oauth._project import FORMAT_HINT, is_project_id

    if isinstance(value, str) and value and not is_project_id(value):
        raise click.BadParameter(
            f"{value!r} is not a Google Cloud project id. {FORMAT_HINT}", ctx=ctx, param=param
        )
    return value


_PROFILE: dict[str, Any] = {
    "metavar": "NAME",
    "callback": checked_profile,
    "envvar": PROFILE_ENV,
    "default": _default_profile,
    "help": "Name of a saved login, to keep several accounts or clients side by side. "
    f"Default: ${PROFILE_ENV}, else the one 'gemini-oauth profiles use' chose, else "
    f"'{DEFAULT_PROFILE}'.",
}

_CACHE = "gemini_oauth.cache"


def environment_only_password(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """A cache URL option's check: one with a password comes from the environment only (a
    command line is public), never from the command line."""
    if value and param.name and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        from gemini_oauth._cache_url import has_password, password_in_argv

        if has_password(value):
            raise password_in_argv(value, param.opts[0])
    return value


def _keep_cache(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.meta[_CACHE] = environment_only_password(ctx, param, value)


#: ``--cache URL``: where profiles are cached; read with ``cache_url()`` (the command does not
#: take it). Everywhere a profile is read, through ``profile_option``, ``grant_options`` and
#: ``connection_options``.
cache_option = click.option(
    "--cache",
    metavar="URL",
    envvar=CACHE_URL_ENV,
    expose_value=False,
    callback=_keep_cache,
    help="Where logins are cached. redis://HOST:PORT/DB (rediss:// for TLS) shares the whole "
    "login between machines, refreshed once for all; with ?mode=tokens it holds access tokens "
    "only, published by 'gemini-oauth cache publish', and this machine never sees a refresh "
    f"token. Default: ${CACHE_URL_ENV}, else files under the home; a URL with a password "
    "only from there (a command line is public).",
)


def cache_url() -> str | None:
    """The --cache URL (or $GEMINI_OAUTH_CACHE_URL) of the running command; None: files."""
    value = click.get_current_context().meta.get(_CACHE)
    return value if isinstance(value, str) and value.strip() else None


#: ``--profile NAME`` alone: a login in this machine's files (``cache publish``, ``cache push``).
local_profile_option = click.option("--profile", **_PROFILE)


def profile_option(command: FC) -> FC:
    """``--profile NAME`` (parameter ``profile: str``) and ``--cache URL`` (``cache_url()``)."""
    return local_profile_option(cache_option(command))


def grant_options(command: Callable[..., R]) -> Callable[..., R]:
    """``--profile NAME`` / ``--adc``: whose tokens a command hands to other programs. The
    command gets ``profile`` (None when neither the flag nor $GEMINI_OAUTH_PROFILE names one:
    'default' if it exists, else ADC, as for the API commands) and ``adc``."""

    @functools.wraps(command)
    def with_grant(*args: Any, **kwargs: Any) -> R:
        named = click.get_current_context().get_parameter_source("profile")
        if named is ParameterSource.DEFAULT:
            kwargs["profile"] = None
        return command(*args, **kwargs)

    with_adc = click.option(
        "--adc",
        is_flag=True,
        help=f"Serve Application Default Credentials (gcloud's ADC file, ${CREDENTIALS_ENV}) "
        f"instead of a saved login. Also what is served when no profile is named and no "
        f"'{DEFAULT_PROFILE}' login exists.",
    )(with_grant)
    return profile_option(with_adc)


# ---------------------------------------------------------------- lists


def list_options(*, what: str, max_page_size: int) -> Callable[[FC], FC]:
    """``--limit N``, ``--page-size N``, ``--page-token TOKEN`` (and a hidden ``--all``, the
    default now): every page is listed unless ``--limit`` says fewer, as gcloud lists."""
    options = (
        click.option(
            "--limit",
            type=click.IntRange(1),
            metavar="N",
            help=f"List at most N {what} (default: all of them, every page).",
        ),
        click.option(
            "--page-size",
            type=click.IntRange(1, max_page_size),
            metavar="N",
            help=f"{what.capitalize()} asked for per request (1-{max_page_size}); the listing "
            "is complete either way.",
        ),
        click.option(
            "--page-token",
            metavar="TOKEN",
            help="Start at this page (a nextPageToken of the API) instead of the first.",
        ),
        click.option("--all", "all_pages", is_flag=True, hidden=True),  # what it asked is default
    )

    def apply(command: FC) -> FC:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


def collect(
    fetch: Callable[[int | None, str | None], tuple[list[dict[str, Any]], str | None]],
    *,
    limit: int | None,
    page_size: int | None,
    page_token: str | None,
    max_page_size: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Every item of a paged listing (``fetch(page_size, token) -> (items, next token)``), or the
    first ``limit``; and whether more were left. A server that repeats a token ends it. Without
    ``page_size``, a limit asks for no more than it needs."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    token = page_token
    while True:
        wanted = page_size or (min(limit - len(found), max_page_size) if limit else None)
        items, token = fetch(wanted, token)
        found.extend(items)
        if limit is not None and len(found) >= limit:
            return found[:limit], bool(token) or len(found) > limit
        if not token or token in seen:
            return found, False
        seen.add(token)


# ---------------------------------------------------------------- the API connection


@dataclass(frozen=True)
class Connection:
    """Whose credentials the API commands use and where their calls go, from the flags."""

    #: A profile named by --profile or $GEMINI_OAUTH_PROFILE; None: 'default' if it exists,
    #: else Application Default Credentials.
    profile: str | None
    adc: bool
    #: "" sends none; None: $GOOGLE_CLOUD_QUOTA_PROJECT, else the credentials'.
    quota_project: str | None
    endpoint: str | None
    api_version: str
    #: --cache URL (or $GEMINI_OAUTH_CACHE_URL): where profiles are cached; None: files.
    cache: str | None = None
    #: How often a request is sent at most (--max-attempts, --no-retry).
    max_attempts: int = DEFAULT_ATTEMPTS

    def credentials(self) -> Credentials:
        """The credentials the flags name; falling back to ADC unasked is said on stderr. Their
        refreshes retry as the flags say, each retry told (``_output.retry_notice``)."""
        from gemini_oauth._credentials import CachedCredentials
        from gemini_oauth._request_auth import resolve_credentials

        creds = resolve_credentials(
            profile=self.profile, adc=self.adc, notice=say, cache=self.cache
        )
        if isinstance(creds, CachedCredentials):
            creds.refresh_retry = dataclasses.replace(
                creds.refresh_retry,
                on_retry=_output.retry_notice,
                max_attempts=min(creds.refresh_retry.max_attempts, self.max_attempts),
            )
        return creds

    def client(self) -> GeminiClient:
        from gemini_oauth._client import GeminiClient

        return GeminiClient(
            self.credentials(),
            quota_project=self.quota_project,
            base_url=self.endpoint,
            api_version=self.api_version,
            max_attempts=self.max_attempts,
            on_retry=_output.retry_notice,
        )


_FLAGS = "gemini_oauth.connection"


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Hold a connection flag for ``connection_options`` (the command does not take it)."""
    ctx.meta.setdefault(_FLAGS, {})[param.name] = value
    return value


_CONNECTION_OPTIONS = (
    click.option(
        "--profile",
        **{**_PROFILE, "callback": lambda c, p, v: _keep(c, p, checked_profile(c, p, v))},
        expose_value=False,
    ),
    cache_option,
    click.option(
        "--adc",
        is_flag=True,
        expose_value=False,
        callback=_keep,
        help=f"Use Application Default Credentials (gcloud's ADC file, ${CREDENTIALS_ENV}, a "
        "service account) instead of a saved login. Also what is used when no profile is named "
        f"and no '{DEFAULT_PROFILE}' login exists.",
    ),
    click.option(
        "--quota-project",
        metavar="ID",
        expose_value=False,
        callback=lambda c, p, v: _keep(c, p, checked_quota_project(c, p, v)),
        help="Project billed for the calls, sent as x-goog-user-project "
        f"(default: ${QUOTA_PROJECT_ENV}, else the login's; '' for none).",
    ),
    click.option(
        "--endpoint",
        metavar="URL",
        expose_value=False,
        callback=_keep,
        help=f"API base URL (default: ${BASE_URL_ENV}, else Google's).",
    ),
    click.option(
        "--api-version",
        type=click.Choice(["v1", "v1beta"]),
        default="v1",
        show_default=True,
        expose_value=False,
        callback=_keep,
        help="API version; v1beta also lists preview models.",
    ),
)


_RETRY_OPTIONS = (
    click.option(
        "--max-attempts",
        type=click.IntRange(1, 10),
        default=DEFAULT_ATTEMPTS,
        show_default=True,
        metavar="N",
        expose_value=False,
        callback=_keep,
        help="Send a request at most N times: 408, 429 and 5xx answers and network errors are "
        "retried with backoff that honours Retry-After (each retry said on a terminal).",
    ),
    click.option(
        "--no-retry",
        is_flag=True,
        expose_value=False,
        callback=_keep,
        help="Send each request once, for scripts that retry themselves (--max-attempts 1).",
    ),
)


def _connection(ctx: click.Context) -> Connection:
    flags = ctx.meta[_FLAGS]
    named = ctx.get_parameter_source("profile") is not ParameterSource.DEFAULT
    attempts = flags.get("max_attempts", DEFAULT_ATTEMPTS)
    if flags.get("no_retry"):
        if ctx.get_parameter_source("max_attempts") is not ParameterSource.DEFAULT and attempts > 1:
            raise click.UsageError("--no-retry and --max-attempts say different things; give one.")
        attempts = 1
    return Connection(
        profile=(flags["profile"] or None) if named else None,
        adc=flags["adc"],
        quota_project=flags["quota_project"],
        endpoint=flags["endpoint"],
        api_version=flags["api_version"],
        cache=cache_url(),
        max_attempts=attempts,
    )


@overload
def connection_options(
    command: Callable[Concatenate[Connection, P], R], *, retries: bool = True
) -> Callable[P, R]: ...


@overload
def connection_options(
    command: None = None, *, retries: bool = True
) -> Callable[[Callable[Concatenate[Connection, P], R]], Callable[P, R]]: ...


def connection_options(
    command: Callable[Concatenate[Connection, P], R] | None = None, *, retries: bool = True
) -> Any:
    """Add the credential and endpoint flags (and ``--max-attempts``/``--no-retry`` unless
    ``retries`` is False: curl retries by its own flags); the command gets a ``Connection`` as
    its first argument. Use as ``@connection_options`` or ``@connection_options(retries=False)``."""

    def decorate(command: Callable[Concatenate[Connection, P], R]) -> Callable[P, R]:
        @functools.wraps(command)
        def with_connection(*args: P.args, **kwargs: P.kwargs) -> R:
            return command(_connection(click.get_current_context()), *args, **kwargs)

        options = _CONNECTION_OPTIONS + (_RETRY_OPTIONS if retries else ())
        for option in reversed(options):
            with_connection = option(with_connection)
        return with_connection

    return decorate if command is None else decorate(command)


# ---------------------------------------------------------------- signing in


def login_options(
    *, scopes_help: str, quota_help: str, saved_client: str = ""
) -> Callable[[FC], FC]:
    """The flags of both sign-ins (``login`` and ``adc login``), and their ``--json``.

    ``saved_client`` names where a client is remembered (it comes first in the default)."""
    options = (
        click.option(
            "--client-secret",
            "client_secret",
            metavar="PATH",
            help=f"Desktop OAuth client file. Default: {saved_client}${CLIENT_SECRET_ENV}, "
            "./client_secret.json, or the one ./client_secret_*.json.",
        ),
        click.option("--scopes", metavar="LIST", help=scopes_help),
        click.option(
            "--no-browser",
            is_flag=True,
            help="Do not open a browser here: print a link to open on any machine, then paste "
            "back the address it ends on. Chosen automatically over SSH, in containers and "
            "notebooks.",
        ),
        click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=0,
            metavar="PORT",
            help="Loopback port for the redirect (default: 0, a free one).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=300.0,
            metavar="SECONDS",
            help="How long to wait for the browser (default: 300).",
        ),
        click.option("--login-hint", metavar="EMAIL", help="Preselect this Google account."),
        click.option(
            "--quota-project",
            metavar="ID",
            help=f"{quota_help} Not read from ${QUOTA_PROJECT_ENV}, which overrides it at call "
            "time instead.",
        ),
        json_option("Also print a summary as JSON on stdout."),
    )

    def apply(command: FC) -> FC:
        for option in reversed(options):
            command = option(command)
        return command

    return apply
