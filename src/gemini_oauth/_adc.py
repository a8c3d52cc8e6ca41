"""Application Default Credentials (ADC) that gcloud and every Google client library can read.

The file format, location and serialisation follow gcloud's own writer byte for byte
(googlecloudsdk/core/credentials/creds.py ``_DumpADCJsonToFile``): an ``authorized_user``
JSON object, ``json.dumps(sort_keys=True, indent=2)``, no trailing newline, mode 0600.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from gemini_oauth._adc_trust import check_adc_info
from gemini_oauth._cache_format import usable_token
from gemini_oauth._constants import (
    CREDENTIALS_ENV,
    GOOGLE_TOKEN_URI,
    HOME_ENV,
    MAX_JSON_FILE,
    PROJECT_ENVS,
    QUOTA_PROJECT_ENV,
    REFRESH_MARGIN,
    TOKEN_HOST_ENV,
    UNIVERSE_DOMAIN,
)
from gemini_oauth._gcloud_paths import ADC_FILENAME, adc_path, config_dir
from gemini_oauth._project import check_project_id
from gemini_oauth._redact import server_text
from gemini_oauth._urls import checked_url
from gemini_oauth.errors import AdcError
from gemini_oauth.scopes import CLOUD_PLATFORM, GCLOUD_QUICKSTART_SCOPES

if TYPE_CHECKING:
    import google.auth.credentials

    from gemini_oauth._client_secrets import ClientSecret
    from gemini_oauth._flow import LoginResult
    from gemini_oauth._store import TokenFile

log = logging.getLogger(__name__)

#: Client id of gcloud's own ADC client (public, from google-auth's _cloud_sdk).
GCLOUD_CLIENT_ID_PREFIX = "764086051850-"
SET_QUOTA_HINT = "Run 'gemini-oauth adc set-quota-project PROJECT_ID'."


# --- where the file lives -------------------------------------------------------------------


def token_uri(env: Mapping[str, str] | None = None) -> str:
    """The token endpoint: $CLOUDSDK_AUTH_TOKEN_HOST (gcloud's auth/token_host) or Google's.

    The refresh token and client secret go there: https, or http only on this machine.
    """
    env = os.environ if env is None else env
    value = env.get(TOKEN_HOST_ENV)
    if not value:
        return GOOGLE_TOKEN_URI
    try:
        return checked_url(value)
    except ValueError as exc:
        raise AdcError(
            f"${TOKEN_HOST_ENV} ({value[:100]!r}) cannot be used: {exc}.",
            hint=f"Unset {TOKEN_HOST_ENV}, or point it at an https:// token endpoint.",
        ) from None


def revoke_uri(env: Mapping[str, str] | None = None) -> str:
    """RFC 7009 endpoint on the token host: ``/revoke`` beside ``/token``."""
    parts = urlsplit(token_uri(env))
    return urlunsplit((parts.scheme, parts.netloc, "/revoke", "", ""))


def override_path(env: Mapping[str, str] | None = None, path: Path | None = None) -> Path | None:
    """$GOOGLE_APPLICATION_CREDENTIALS when it names a file other than ``path``: it would win."""
    env = os.environ if env is None else env
    value = env.get(CREDENTIALS_ENV)
    if not value:
        return None
    target = Path(value)
    mine = path or adc_path(env=env)
    try:
        same = target.resolve() == mine.resolve()
    except OSError:
        same = False
    return None if same else target


# --- the file format ------------------------------------------------------------------------


def adc_info(
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    account: str = "",
    quota_project: str | None = None,
    rapt_token: str | None = None,
    universe_domain: str = UNIVERSE_DOMAIN,
) -> dict[str, str]:
    """The authorized_user object gcloud writes (no access token, no scopes, no token_uri)."""
    info = {
        "account": account,
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
        "type": "authorized_user",
        "universe_domain": universe_domain,
    }
    if rapt_token:
        info["rapt_token"] = rapt_token
    if quota_project:
        info["quota_project_id"] = quota_project
    return info


def dumps_adc(info: Mapping[str, Any]) -> str:
    """Serialise exactly as gcloud's ``_DumpADCJsonToFile`` does."""
    return json.dumps(info, sort_keys=True, indent=2, separators=(",", ": "))


def read_adc(path: Path | None = None) -> dict[str, Any]:
    """Read an ADC file; AdcError when it is missing or not a JSON object."""
    path = path or adc_path()
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_JSON_FILE + 1)
        if len(raw) > MAX_JSON_FILE:
            raise ValueError("larger than any credentials file")
        data = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise AdcError(
            f"No Application Default Credentials at {path}.", hint=f"Run '{login_command()}'."
        ) from None
    except (OSError, ValueError, RecursionError) as exc:
        raise AdcError(
            f"Cannot read Application Default Credentials at {path}: {type(exc).__name__}.",
            hint="Run 'gemini-oauth adc login' to write a fresh file.",
        ) from None
    if not isinstance(data, dict):
        raise AdcError(f"{path} is not a JSON object.", hint="Run 'gemini-oauth adc login'.")
    return data


def _write(path: Path, text: str) -> None:
    """Atomic 0600 write of exactly ``text``, as gcloud writes it (not re-serialised)."""
    from gemini_oauth._store import TokenFile

    TokenFile(path).write_text(text.replace("\n", os.linesep))  # gcloud: text mode, CRLF on Windows


def _check_project(project: str) -> None:
    check_project_id(project, source="The quota project", error=AdcError)


def overwrite_warnings(
    new: Mapping[str, Any], path: Path, env: Mapping[str, str] | None = None
) -> list[str]:
    """What the user should know before ``new`` replaces the file at ``path``."""
    notes: list[str] = []
    try:
        old = read_adc(path)
    except AdcError:
        old = {}
    if old and old.get("type") != "authorized_user":
        notes.append(f"Replacing {old.get('type', 'unknown')} credentials at {path}.")
    elif old and old.get("client_id") != new.get("client_id"):
        notes.append(f"Replacing ADC of another OAuth client ({old.get('client_id')}) at {path}.")
    elif old and old.get("account") and new.get("account") and old["account"] != new["account"]:
        notes.append(f"Replacing ADC of another account ({old['account']}) at {path}.")
    other = override_path(env, path)
    if other is not None:
        notes.append(
            f"{CREDENTIALS_ENV} is set to {other}, so client libraries will use that file, "
            f"not {path}. Unset it to use these credentials."
        )
    return notes


def write_adc(
    result: LoginResult,
    client: ClientSecret,
    *,
    quota_project: str | None = None,
    path: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Write a login result as gcloud-compatible ADC (0600, atomic); warn about what it replaces."""
    if not result.refresh_token:
        raise AdcError(
            "The login returned no refresh token, so no ADC file was written.",
            hint="Run 'gemini-oauth adc login' again and approve offline access.",
        )
    if quota_project:
        _check_project(quota_project)
    path = path or adc_path()
    info = adc_info(
        client_id=client.client_id,
        client_secret=client.client_secret,
        refresh_token=result.refresh_token,
        account=result.account or "",
        quota_project=quota_project,
        rapt_token=getattr(result, "rapt_token", None),
    )
    for note in overwrite_warnings(info, path):
        (warn or log.warning)(note)
    _write(path, dumps_adc(info))
    return path


@dataclass(frozen=True)
class AdcLogin:
    """What ``login`` wrote: ``adc login --json`` prints ``to_dict()`` (never a secret)."""

    path: str
    account: str | None
    client_id: str
    scopes: list[str]
    quota_project_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def login(
    client_secret: str | Path | None = None,
    scopes: str | Sequence[str] = GCLOUD_QUICKSTART_SCOPES,
    *,
    quota_project: str | None = None,
    path: Path | None = None,
    out: TextIO | None = None,
    **flow_options: Any,
) -> AdcLogin:
    """Sign in and write the ADC file, as ``gcloud auth application-default login`` does.

    cloud-platform must be granted (gcloud's rule). Conversation, and warnings about what the
    file replaces, go to ``out`` (stderr). ``flow_options`` are ``_flow.run_login``'s.
    """
    from gemini_oauth._credentials import sign_in

    if quota_project:
        _check_project(quota_project)  # before the browser, not after
    path = path or adc_path()
    stream = out if out is not None else sys.stderr
    client, result = sign_in(
        client_secret,
        scopes,
        command="gemini-oauth adc login",
        out=stream,
        required_scopes=(CLOUD_PLATFORM,),
        **flow_options,
    )
    written = write_adc(
        result,
        client,
        quota_project=quota_project,
        path=path,
        warn=lambda note: print(f"warning: {note}", file=stream, flush=True),
    )
    return AdcLogin(
        path=str(written),
        account=result.account or None,
        client_id=client.client_id,
        scopes=list(result.granted_scopes),
        quota_project_id=quota_project,
    )


def _user_adc(path: Path, hint: str) -> dict[str, Any]:
    info = read_adc(path)
    if info.get("type") != "authorized_user":
        raise AdcError(
            f"The ADC at {path} are {info.get('type')!r} credentials, not a user's.", hint=hint
        )
    return info


def set_quota_project(project: str, *, path: Path | None = None) -> Path:
    """Add or change ``quota_project_id`` in an existing user ADC file, keeping all else."""
    _check_project(project)
    path = path or adc_path()
    info = _user_adc(path, "A quota project can only be set on user credentials ('adc login').")
    info["quota_project_id"] = project
    _write(path, dumps_adc(info))
    return path


def _no_quota_note(client_id: str) -> str:
    if client_id.startswith(GCLOUD_CLIENT_ID_PREFIX):
        why = "gcloud's own OAuth client has no project of yours to bill"
    else:
        why = "Google bills the project that owns the OAuth client"
    return f"No quota project in the ADC file ({why}). {SET_QUOTA_HINT}"


# --- credentials ----------------------------------------------------------------------------


def _transport() -> Any:
    from gemini_oauth._transport import HttpxRequest

    return HttpxRequest()


def default_credentials(
    scopes: Sequence[str] | None = None,
    quota_project: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> tuple[google.auth.credentials.Credentials, str | None]:
    """google.auth.default() semantics with clear errors and gcloud's token-host override.

    Order: $GOOGLE_APPLICATION_CREDENTIALS, the gcloud ADC file, then google-auth's
    metadata-server checks. Unlike google.auth.default() it never spawns gcloud to guess a
    project. ``scopes`` go to credentials that need them (a service account's key); the metadata
    server's are asked for the scopes it lists. Quota project: argument,
    $GOOGLE_CLOUD_QUOTA_PROJECT, then the file's. Warns
    (logging, once per process) when user credentials have none. Returns (credentials,
    project_id).
    """
    env = os.environ if env is None else env
    creds, project = _load(scopes, quota_project, env)
    if getattr(creds, "refresh_token", None) and not creds.quota_project_id:
        path = str(env.get(CREDENTIALS_ENV) or adc_path(env=env))
        if path not in _TOLD_NO_QUOTA:  # once per process and file, not once per client
            _TOLD_NO_QUOTA.add(path)
            log.warning(_no_quota_note(getattr(creds, "client_id", None) or ""))
    return creds, project


#: The ADC files whose missing quota project this process has warned about.
_TOLD_NO_QUOTA: set[str] = set()


def _load(
    scopes: Sequence[str] | None, quota_project: str | None, env: Mapping[str, str]
) -> tuple[google.auth.credentials.Credentials, str | None]:
    import google.auth
    import google.auth.exceptions
    from google.auth import compute_engine
    from google.auth.credentials import with_scopes_if_required
    from google.oauth2.credentials import Credentials as UserCredentials

    explicit = env.get(CREDENTIALS_ENV)
    path = Path(explicit) if explicit else adc_path(env=env)
    if explicit and not path.is_file():
        raise AdcError(
            f"{CREDENTIALS_ENV} names {path}, which does not exist.",
            hint=f"Fix or unset {CREDENTIALS_ENV}.",
        )
    if quota_project:
        check_project_id(quota_project)
    elif env.get(QUOTA_PROJECT_ENV):
        quota_project = check_project_id(env[QUOTA_PROJECT_ENV], source=f"${QUOTA_PROJECT_ENV}")
    uri = token_uri(env)  # a bad $CLOUDSDK_AUTH_TOKEN_HOST fails before anything is read
    try:
        if path.is_file():
            info = read_adc(path)  # what is checked is what google-auth loads
            check_adc_info(info, path, env, quota_hint=SET_QUOTA_HINT)
            with warnings.catch_warnings():  # google-auth's own default() silences it too
                warnings.simplefilter("ignore", DeprecationWarning)
                creds, project = google.auth.load_credentials_from_dict(info)  # type: ignore[no-untyped-call]
        else:
            creds, project = google.auth.default()
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise AdcError(
            f"No usable Application Default Credentials: {server_text(_first_line(exc))}",
            hint=f"Run '{login_command()}', or set GOOGLE_APPLICATION_CREDENTIALS to a key file.",
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a malformed field
        raise AdcError(
            f"The credentials at {path} are malformed ({type(exc).__name__}).",
            hint="Run 'gemini-oauth adc login' to write a fresh file, or download the key again.",
        ) from None
    project = next((env[name] for name in PROJECT_ENVS if env.get(name)), None) or project
    if type(creds) is UserCredentials and path.is_file():
        creds = _user_credentials(info, path, uri, env)  # refreshed by our own grant
    if quota_project:
        creds = creds.with_quota_project(quota_project)
    if not isinstance(creds, compute_engine.Credentials):
        # A metadata server's token is its instance's (or a login's, behind `metadata-server`):
        # unscoped, google-auth asks for the scopes it lists, as Compute Engine serves anyway.
        creds = with_scopes_if_required(creds, scopes)  # type: ignore[no-untyped-call]
    return creds, project


def _user_credentials(
    info: Mapping[str, Any], path: Path, uri: str, env: Mapping[str, str]
) -> google.auth.credentials.Credentials:
    """A user's ADC as CachedCredentials without a cache file: refreshed by our own refresh
    grant (one error mapping, one retry policy; Google's answer kept, ``invalid_rapt`` seen)."""
    from gemini_oauth._credentials import CachedCredentials
    from gemini_oauth._token_endpoint import GrantContext

    data = {k: v for k, v in info.items() if k not in ("token", "expiry", "scopes")}
    data["token_uri"] = uri
    context = GrantContext(
        login=login_command(
            str(info.get("client_id") or ""),
            env,
            quota_project=str(info.get("quota_project_id") or ""),
        ),
        source=f"Application Default Credentials ({path})",
        account=str(info.get("account") or ""),
        kept="the ADC file was kept",
        on_dead="The ADC file was kept; the command below replaces it.",
        adc=True,
    )
    return CachedCredentials.from_cache(data, None, context)


def login_command(
    client_id: str = "", env: Mapping[str, str] | None = None, *, quota_project: str = ""
) -> str:
    """The command that writes ADC again: gcloud's when gcloud's own client made them, ours with
    ``--client-secret`` when no client file would be found from here, and with the file's
    ``--quota-project`` so that the new file keeps it."""
    if client_id.startswith(GCLOUD_CLIENT_ID_PREFIX):
        return "gcloud auth application-default login"
    from gemini_oauth._client_secrets import find_client_secret
    from gemini_oauth._project import is_project_id
    from gemini_oauth.errors import ClientSecretError

    command = "gemini-oauth adc login"
    try:
        find_client_secret()
    except ClientSecretError:
        command += " --client-secret PATH/TO/client_secret.json"
    if quota_project and is_project_id(quota_project):  # a word the shell takes as it is
        command += f" --quota-project {quota_project}"
    return command


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _refresh(creds: google.auth.credentials.Credentials) -> None:
    """Refresh ADC: a user's through our refresh grant, the others through google-auth; failures
    map through ``_token_endpoint``."""
    from gemini_oauth._token_endpoint import from_google_auth

    request = _transport()
    try:
        creds.refresh(request)  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise from_google_auth(exc, creds) from None
    finally:
        request.close()


# --- access token cache ---------------------------------------------------------------------
# gcloud refreshes on every print-access-token call; we keep the access token in our own
# 0600 cache keyed by a hash of the refresh token, never in the ADC file, refreshed under
# the cache file's lock (the token store's rule: ``TokenFile.lock``, atomic writes).


def _cache_file(refresh_token: str, uri: str, env: Mapping[str, str]) -> TokenFile:
    from gemini_oauth._store import home_file

    key = hashlib.sha256(f"{uri}\n{refresh_token}".encode()).hexdigest()[:32]
    return home_file("adc-tokens", f"{key}.json", env.get(HOME_ENV) or None)


def _now() -> float:
    from gemini_oauth._clock import now

    return now()


def _read_cached(file: TokenFile) -> tuple[str, float] | None:
    raw = file.read_bytes()
    if raw is None or len(raw) > MAX_JSON_FILE:
        return None
    try:
        data = json.loads(raw)
        expires_at = float(data["expires_at"])
        if expires_at - _now() > REFRESH_MARGIN and usable_token(data["token"]):
            return str(data["token"]), expires_at
    except (ValueError, KeyError, TypeError, RecursionError):
        pass
    return None


def access_token(*, env: Mapping[str, str] | None = None, use_cache: bool = True) -> str:
    """An access token from ADC: cached if still good for 5 minutes, else a fresh refresh."""
    return access_token_and_expiry(env=env, use_cache=use_cache)[0]


def access_token_and_expiry(
    *, env: Mapping[str, str] | None = None, use_cache: bool = True
) -> tuple[str, float | None]:
    """``access_token`` and when it expires (epoch seconds; None if the credentials never said)."""
    env = os.environ if env is None else env
    if use_cache and (cached := _cached_token(env)):
        return cached  # without importing google-auth or httpx
    from google.oauth2.credentials import Credentials as UserCredentials

    creds, _ = _load([CLOUD_PLATFORM], None, env)  # the scope gcloud asks for
    if not (isinstance(creds, UserCredentials) and creds.refresh_token):
        _refresh(creds)
        return str(creds.token), _expires_at(creds)
    cache = _cache_file(creds.refresh_token, token_uri(env), env)
    log.debug("Refreshing ADC under the token cache lock %s", cache.lock_path)
    with cache.lock():  # the token store's rule: one refresh, the others take its token
        if use_cache and (cached := _read_cached(cache)):
            return cached
        _refresh(creds)
        expires_at = _expires_at(creds)
        if expires_at:
            cache.write({"token": creds.token, "expires_at": expires_at})
    return str(creds.token), expires_at


def _expires_at(creds: google.auth.credentials.Credentials) -> float | None:
    return creds.expiry.replace(tzinfo=timezone.utc).timestamp() if creds.expiry else None


def _cached_token(env: Mapping[str, str]) -> tuple[str, float] | None:
    try:
        info = read_adc(Path(env.get(CREDENTIALS_ENV) or adc_path(env=env)))
    except AdcError:
        return None
    refresh_token = info.get("refresh_token")
    if info.get("type") != "authorized_user" or not isinstance(refresh_token, str):
        return None
    return _read_cached(_cache_file(refresh_token, token_uri(env), env))


def _forget_cached(refresh_token: str, env: Mapping[str, str]) -> None:
    cache = _cache_file(refresh_token, token_uri(env), env)
    with contextlib.suppress(OSError):
        cache.delete()
    with contextlib.suppress(OSError):
        cache.lock_path.unlink()  # the grant is gone: nobody refreshes under it again


# --- revoke ---------------------------------------------------------------------------------


def revoke(*, path: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Revoke the ADC refresh token (RFC 7009) at the token host, then delete the file.

    The rule is ``_token_endpoint.revoke``'s: only a 200, or 400 ``invalid_token`` (already
    gone), deletes the file; any other answer, or none, keeps it and raises RevocationError.
    """
    from gemini_oauth._token_endpoint import revoke as revoke_token

    env = os.environ if env is None else env
    path = path or adc_path(env=env)
    hint = "Only user credentials can be revoked here; manage service-account keys in the console."
    info = _user_adc(path, hint)
    token = str(info.get("refresh_token") or "")
    if token:
        request = _transport()
        try:
            revoke_token(request, revoke_uri(env), token, kept="the ADC file was kept")
        finally:
            request.close()
        _forget_cached(token, env)
    path.unlink()
    return path


__all__ = [
    "ADC_FILENAME",
    "AdcLogin",
    "access_token",
    "access_token_and_expiry",
    "adc_info",
    "adc_path",
    "config_dir",
    "default_credentials",
    "dumps_adc",
    "login",
    "login_command",
    "overwrite_warnings",
    "read_adc",
    "revoke",
    "revoke_uri",
    "set_quota_project",
    "token_uri",
    "write_adc",
]
