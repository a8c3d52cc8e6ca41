"""``gemini-oauth doctor``: every check a support engineer would run, as data.

Each check is a function of the shared ``Visit`` (what the checks before it found: the record,
the client, the credentials, a fresh token, the server's clock) returning a ``Check``: ok,
warning, failure or skipped, with a one-line summary and the fix. ``CHECKS`` is their order;
a new check is one function added there. The report's shapes are in ``_doctor_report``.
Nothing secret is ever put in a Check: no token, code, refresh token or client secret.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gemini_oauth import _clock
from gemini_oauth._constants import (
    API_KEY_ENVS,
    BASE_URL_ENV,
    CACHE_URL_ENV,
    CLIENT_SECRET_ENV,
    CLOUDSDK_CONFIG_ENV,
    CREDENTIALS_ENV,
    HOME_ENV,
    PROFILE_ENV,
    QUOTA_PROJECT_ENV,
    TESTING_REFRESH_LIFETIME,
    TOKEN_HOST_ENV,
    is_loopback_host,
)
from gemini_oauth._doctor_report import FAILURE, OK, SKIPPED, WARNING, Check, Report, Visit
from gemini_oauth.errors import GeminiOAuthError
from gemini_oauth.scopes import CLOUD_PLATFORM

if TYPE_CHECKING:
    import httpx

#: How long one probe may take; the whole run stays within a few seconds.
PROBE_TIMEOUT = 3.0
#: Clock skew that deserves a warning, and one that breaks token expiry (the refresh margin).
SKEW_WARNING, SKEW_FAILURE = 60.0, 300.0


# ---------------------------------------------------------------- the checks, in order


def check_client(v: Visit) -> Check:
    """The OAuth client: found, a Desktop client, with Google's (or loopback) endpoints."""
    from gemini_oauth._client_secrets import load_client_secret
    from gemini_oauth._setup import client_from_record

    if v.adc:
        client_id = (v.record or {}).get("client_id")
        if not client_id or (v.record or {}).get("type") != "authorized_user":
            return Check(
                "client",
                SKIPPED,
                "These ADC carry no OAuth client (a service account or the metadata server).",
            )
        return Check("client", OK, f"The ADC file carries its OAuth client {client_id}.")
    recorded = client_from_record(v.record or {})
    path = (v.record or {}).get("client_secret_file")
    try:
        v.client = recorded or load_client_secret(None)
    except GeminiOAuthError as exc:
        return Check("client", FAILURE, exc.message, exc.hint)
    client = v.client
    v.token_uri = client.token_uri
    where = f"from {client.path}" if client.path else "saved with the login"
    if recorded is not None and path and client.path is None:
        where += f" (its file {path} is gone or changed)"
    foreign = [
        name
        for name, uri in (("auth_uri", client.auth_uri), ("token_uri", client.token_uri))
        if not _google_or_loopback(uri)
    ]
    details = {"client_id": client.client_id, "path": str(client.path) if client.path else None}
    if foreign:
        return Check(
            "client",
            WARNING,
            f"Desktop client {client.client_id} {where} sends sign-ins to a host that is neither "
            f"Google's nor this machine ({', '.join(foreign)}).",
            "Download the client again from Google Cloud console > Google Auth platform > "
            "Clients, unless you meant to use another server.",
            details,
        )
    return Check("client", OK, f"Desktop client {client.client_id} {where}.", details=details)


def check_reachability(v: Visit) -> list[Check]:
    """The OAuth and Gemini hosts answer (through the proxy the environment names), and the
    clock agrees with the token endpoint's ``Date``."""
    from gemini_oauth._request_auth import resolve_base_url

    proxy = next((os.environ[n] for n in _PROXY_ENVS if os.environ.get(n)), "")
    via = f" through the proxy {_without_userinfo(proxy)}" if proxy else ""
    found: list[Check] = []
    try:
        v.base_url = resolve_base_url(None)
    except GeminiOAuthError as exc:
        found.append(Check("reachability", FAILURE, exc.message, exc.hint))
    hosts = [("OAuth", v.token_uri)] + ([("Gemini", v.base_url)] if v.base_url else [])
    for label, url in hosts:
        origin = _origin(url)
        try:
            response = v.http.get(origin + "/", timeout=PROBE_TIMEOUT)
        except Exception as exc:  # every transport failure is the finding itself
            found.append(
                Check(
                    "reachability",
                    FAILURE,
                    f"The {label} host {origin} cannot be reached{via} ({type(exc).__name__}).",
                    "Check the network connection, and HTTPS_PROXY / NO_PROXY if a proxy is "
                    "needed; then run the doctor again.",
                )
            )
            continue
        found.append(Check("reachability", OK, f"The {label} host {origin} answers{via}."))
        if label == "OAuth":
            v.server_time = _clock.http_date_to_epoch(response.headers.get("date"))
    found.insert(0, _clock_check(v))
    return found


def _clock_check(v: Visit) -> Check:
    if v.server_time is None:
        return Check("clock", SKIPPED, "The token endpoint gave no Date header to compare with.")
    skew = _clock.now() - v.server_time
    ahead = "ahead of" if skew > 0 else "behind"
    said = f"This machine's clock is {_duration(abs(skew))} {ahead} the token endpoint's"
    details = {"skew_seconds": round(skew)}
    fix = "Set the clock (e.g. turn on network time: 'timedatectl set-ntp true' on Linux)."
    if abs(skew) >= SKEW_FAILURE:
        return Check(
            "clock", FAILURE, said + ": tokens will seem valid or expired wrongly.", fix, details
        )
    if abs(skew) >= SKEW_WARNING:
        return Check("clock", WARNING, said + ".", fix, details)
    return Check("clock", OK, "The clock agrees with the token endpoint's.", details=details)


def check_cache(v: Visit) -> Check:
    """The cache (or ADC file) and its folders: owned by this user, private, no symlinks."""
    if v.backend is not None and v.backend.backend != "file":
        return Check("cache", SKIPPED, "No file: the login is cached in Redis.")
    if not v.modes:
        return Check("cache", SKIPPED, f"No file for {v.target} yet.")
    problems = []
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    for path, mode, owner, link in v.modes:
        if link:
            problems.append(f"{path} is a symbolic link")
        elif uid is not None and owner != uid:
            problems.append(f"{path} belongs to uid {owner}, not to you")
        elif os.name != "nt" and stat.S_IMODE(mode) & 0o077:
            problems.append(f"{path} is open to others (mode {stat.S_IMODE(mode):04o})")
    shown = ", ".join(str(p) for p, *_ in v.modes)
    if problems:
        return Check(
            "cache", FAILURE, "; ".join(problems) + ".",
            "Make them yours and private: chmod 700 on the folders and 600 on the "
            "file (gemini-oauth repairs the modes of its own files when it reads them), "
            "or remove the link.",
        )  # fmt: skip
    return Check("cache", OK, f"Owned by you and private: {shown}.")


def check_backend(v: Visit) -> list[Check]:
    """A cache server: reachable, this user let in, the record or published token there."""
    backend = v.backend
    if backend is None or backend.backend == "file":
        return []
    details: dict[str, Any] = {"location": backend.location}
    try:
        details.update(backend.health())  # type: ignore[attr-defined]
    except GeminiOAuthError as exc:
        return [Check("cache backend", FAILURE, exc.message, exc.hint, details)]
    mode = "access tokens only" if backend.tokens_only else "the whole login, shared"
    summary = f"Redis {backend.location} answers in {details['round_trip_ms']:.1f} ms ({mode})"
    if not details["record"]:
        from gemini_oauth._published import publish_hint

        return [Check("cache backend", WARNING, f"{summary}, but holds nothing for "
                      f"{v.target}.", f"Run '{v.login}'" + (" where the publisher runs, then "
                      f"{publish_hint(v.profile or 'default')}." if backend.tokens_only
                      else " with the same --cache URL."), details)]  # fmt: skip
    return [Check("cache backend", OK, summary + ".", details=details)]


def check_login(v: Visit) -> Check:
    """A refresh token is there, the access token is (made) valid, the grant's age is told."""
    from gemini_oauth._setup import login_needed_error, profile_context
    from gemini_oauth._store import has_grant

    if v.adc:
        return _adc_login(v)
    if v.backend_error is not None:
        return Check("login", FAILURE, v.backend_error.message, v.backend_error.hint)
    data = v.record
    if v.backend is not None and v.backend.tokens_only and data is not None:
        return _published_login(v, data)
    if data is None:
        return Check("login", FAILURE, f"Not logged in ({v.target}).", f"Run '{v.login}'.")
    if not has_grant(data):
        ended = login_needed_error(profile_context(v.profile or "default", data), data)
        return Check("login", FAILURE, ended.message, ended.hint)
    from gemini_oauth._credentials import load_profile

    creds = load_profile(v.profile or "default", cache=v.cache)
    v.credentials = creds
    age = _grant_age(data, v.server_time)
    details = {"account": data.get("account") or None, "grant_age_days": _days(age)}
    failure = _refresh(v)
    if failure is not None:
        return failure
    if age is not None and age >= TESTING_REFRESH_LIFETIME - 86400:
        return Check(
            "login",
            WARNING,
            f"Logged in as {data.get('account') or '(unknown account)'}; the refresh token is "
            f"{_days(age)} days old: if the app is in Testing status Google ends it at 7 days.",
            "Publish the app (Google Auth platform > Audience), or sign in again then: "
            f"'{v.login}'.",
            details,
        )
    return Check(
        "login",
        OK,
        f"Logged in as {data.get('account') or '(unknown account)'}; "
        f"the refresh token is {_days(age) if age is not None else '?'} days old.",
        details=details,
    )


def _published_login(v: Visit, data: dict[str, Any]) -> Check:
    from gemini_oauth._credentials import load_profile

    v.credentials = creds = load_profile(v.profile or "default", cache=v.cache)
    if not creds.valid and (failure := _refresh(v)) is not None:
        return failure
    left = int((_epoch_of(creds.expiry) or 0) - _clock.now())
    return Check("login", OK, f"An access token for {data.get('account') or '(unknown account)'}"
                 f" is published, valid for {left // 60} min; no refresh token here (mode="
                 "tokens).", details={"account": data.get("account")})  # fmt: skip


def _adc_login(v: Visit) -> Check:
    from gemini_oauth._adc import default_credentials
    from gemini_oauth._adc_status import find_source

    source = find_source()
    if source is None:
        from gemini_oauth._adc import login_command

        return Check(
            "login",
            FAILURE,
            "No Application Default Credentials were found.",
            f"Run '{login_command()}', or set {CREDENTIALS_ENV} to a key file.",
        )
    v.source = source.describe()
    try:
        v.credentials = default_credentials([CLOUD_PLATFORM])[0]
    except GeminiOAuthError as exc:
        return Check("login", FAILURE, exc.message, exc.hint)
    failure = _refresh(v)
    return failure or Check(
        "login",
        OK,
        f"Application Default Credentials: {v.source}.",
        details={"source": source.to_dict()},
    )


def _refresh(v: Visit) -> Check | None:
    from gemini_oauth._token_endpoint import from_google_auth
    from gemini_oauth._transport import HttpxRequest

    creds = v.credentials
    if creds is None:
        return None
    request = HttpxRequest(v.http)  # always: only a refresh proves the refresh token works
    try:
        creds.refresh(request)  # type: ignore[no-untyped-call]
    except Exception as exc:
        error = from_google_auth(exc, creds)
        v.credentials = None  # what follows needs a working login
        return Check("login", FAILURE, error.message, error.hint)
    return None


def check_scopes(v: Visit) -> Check:
    """The granted scopes include one GenerateContent accepts."""
    from gemini_oauth.scopes import calls_gemini, short_name

    granted = list((v.record or {}).get("scopes") or []) if not v.adc else []
    if v.adc:
        scopes = getattr(v.credentials, "scopes", None) or []
        granted = list(scopes)
    if not granted:
        return Check(
            "scopes",
            SKIPPED,
            "The credentials do not say which scopes they carry (tokeninfo below does).",
        )
    names = ", ".join(short_name(s) for s in granted)
    if calls_gemini(granted):
        return Check("scopes", OK, f"Granted: {names}.")
    return Check(
        "scopes",
        FAILURE,
        f"None of the granted scopes ({names}) can call Gemini.",
        f"Run '{v.login} --scopes openid,email,cloud-platform,retriever'.",
    )


def check_tokeninfo(v: Visit) -> Check:
    """Google's view of the access token: issued to this client, for whom, which scopes."""
    token = getattr(v.credentials, "token", None)
    if not token:
        return Check("tokeninfo", SKIPPED, "No access token to ask about.")
    url = _origin(v.token_uri) + "/tokeninfo"
    try:
        answer = v.http.post(url, data={"access_token": token}, timeout=PROBE_TIMEOUT)
        info = answer.json() if answer.status_code == 200 else None
    except Exception as exc:  # the finding itself
        return Check("tokeninfo", WARNING, f"{url} did not answer ({type(exc).__name__}).")
    if not isinstance(info, dict):
        return Check(
            "tokeninfo",
            FAILURE,
            f"{url} does not know the access token "
            f"(HTTP {answer.status_code}): it was revoked or has expired.",
            f"Run '{v.login}'.",
        )
    audience = str(info.get("aud") or "")
    expected = getattr(v.credentials, "client_id", None) or (v.record or {}).get("client_id")
    details = {"aud": audience, "email": info.get("email"), "expires_in": info.get("expires_in")}
    if expected and audience and audience != expected:
        return Check(
            "tokeninfo",
            FAILURE,
            f"The token was issued to another client ({audience}), "
            f"not {expected}: the saved login mixes two clients.",
            f"Run '{v.login} --force'.",
            details,
        )
    who = info.get("email") or "an account that did not share its email"
    return Check(
        "tokeninfo",
        OK,
        f"Google knows the token: for {who}, issued to this client, "
        f"{info.get('expires_in', '?')} s left.",
        details=details,
    )


def check_api(v: Visit) -> Check:
    """One real call (models.list) with the quota project: enabled, billable, in scope."""
    from gemini_oauth._client import GeminiClient

    if v.credentials is None or not v.base_url:
        return Check("api", SKIPPED, "No usable credentials or API endpoint to call with.")
    try:
        with GeminiClient(
            v.credentials,
            base_url=v.base_url,
            max_attempts=1,
            deadline=5.0,
            timeout=PROBE_TIMEOUT,
            http=v.http,
        ) as api:
            page = api.list_models(page_size=1)
            quota = api.quota_project
    except GeminiOAuthError as exc:
        return Check("api", FAILURE, exc.message, exc.hint)
    billed = f"billed to {quota}" if quota else "no quota project sent: the client's project pays"
    return Check(
        "api",
        OK,
        f"models.list answered from {v.base_url} ({billed}).",
        details={"quota_project": quota, "models": len(page.models)},
    )


def check_environment(v: Visit) -> list[Check]:
    """The variables that steer the result, each said; API keys make Google's SDKs skip OAuth."""
    found = []
    steering = (
        HOME_ENV,
        PROFILE_ENV,
        CLIENT_SECRET_ENV,
        CREDENTIALS_ENV,
        CLOUDSDK_CONFIG_ENV,
        TOKEN_HOST_ENV,
        QUOTA_PROJECT_ENV,
        BASE_URL_ENV,
    )
    named = {name: os.environ[name] for name in steering if os.environ.get(name)}
    if os.environ.get(CACHE_URL_ENV, "").strip():  # shown without its password
        from gemini_oauth._cache_url import parse_cache_url

        try:
            named[CACHE_URL_ENV] = parse_cache_url(os.environ[CACHE_URL_ENV]).shown
        except GeminiOAuthError:
            named[CACHE_URL_ENV] = "(not a usable cache URL)"
    if named:
        shown = "; ".join(f"{k}={v}" for k, v in named.items())
        found.append(Check("environment", OK, f"Set: {shown}.", details={"set": named}))
    keys = [name for name in API_KEY_ENVS if os.environ.get(name)]
    if keys:
        found.append(
            Check(
                "environment",
                WARNING,
                f"{' and '.join(keys)} set: Google's SDKs "
                "(google-genai) use that API key instead of OAuth.",
                f"Unset it to use OAuth: unset {' '.join(keys)}",
                {"api_keys": keys},
            )
        )
    return found or [Check("environment", OK, "No variable steers the result.")]


Step = Callable[[Visit], "Check | list[Check]"]
#: The checks, in order. Add a check here.
CHECKS: list[Step] = [
    check_client,
    check_reachability,
    check_cache,
    check_backend,
    check_login,
    check_scopes,
    check_tokeninfo,
    check_api,
    check_environment,
]


# ---------------------------------------------------------------- running them


def run(
    profile: str | None = None,
    *,
    adc: bool = False,
    http: httpx.Client | None = None,
    cache: str | None = None,
) -> Report:
    """Run every check for ``profile`` (None: the chosen profile, else 'default' if it exists,
    else ADC) or ADC; the profile is read from the cache URL ``cache`` (else
    $GEMINI_OAUTH_CACHE_URL), else files."""
    import httpx

    from gemini_oauth._cache_backend import selected_url
    from gemini_oauth._setup import login_command
    from gemini_oauth._store import chosen_profile, profile_file

    own = http is None
    client = http or httpx.Client(timeout=PROBE_TIMEOUT)
    try:
        visit = Visit(profile=profile, adc=adc, http=client, cache=selected_url(cache))
        if not adc and visit.cache is not None:
            _shared_visit(visit)
        elif not adc:
            profile = profile or chosen_profile()
            file = profile_file(profile or "default")
            visit.modes = _modes(file.path, file.private_dirs)  # before a read repairs them
            if profile is None and not file.path.exists():
                visit.adc = True
            else:
                visit.profile = profile or "default"
                visit.login = login_command(visit.profile)
                visit.record = file.read()
                visit.record_path = file.path
        if visit.adc:
            _adc_visit(visit)
        checks: list[Check] = []
        for step in CHECKS:
            found = step(visit)
            checks.extend(found if isinstance(found, list) else [found])
        return Report(visit.target, checks)
    finally:
        if own:
            client.close()


def _shared_visit(v: Visit) -> None:
    """A profile in a cache server: never ADC, even when unreachable (then login fails)."""
    from gemini_oauth._cache_backend import profile_record
    from gemini_oauth._setup import login_command
    from gemini_oauth._store import chosen_profile

    v.profile = v.profile or chosen_profile() or "default"
    v.login = login_command(v.profile, v.cache)
    v.backend = profile_record(v.profile, cache=v.cache)
    try:
        v.record = v.backend.read()
    except GeminiOAuthError as exc:
        v.backend_error = exc


def _adc_visit(v: Visit) -> None:
    from gemini_oauth import _adc
    from gemini_oauth._adc_status import find_source

    v.login = "gemini-oauth adc login"
    source = find_source(probe_metadata=False)
    if source is not None and source.path:
        path = Path(source.path).absolute()
        v.modes = _modes(path, ())  # the file only: gcloud's folder, or wherever a key is kept
        try:
            v.record = _adc.read_adc(path)
        except GeminiOAuthError:
            v.record = None
        v.token_uri = str((v.record or {}).get("token_uri") or _adc.token_uri())
        if (v.record or {}).get("type") == "authorized_user":
            v.token_uri = _adc.token_uri()
            record = v.record or {}
            v.login = _adc.login_command(
                str(record.get("client_id") or ""),
                quota_project=str(record.get("quota_project_id") or ""),
            )


def _modes(path: Path, folders: tuple[Path, ...]) -> list[tuple[Path, int, int, bool]]:
    found = []
    for item in (*folders, path):
        try:
            st = item.lstat()
        except OSError:
            continue
        found.append((item, st.st_mode, st.st_uid, stat.S_ISLNK(st.st_mode)))
    return found


_PROXY_ENVS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def _google_or_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return (
        host.endswith(".google.com") or host.endswith(".googleapis.com") or is_loopback_host(host)
    )


def _grant_age(data: dict[str, Any], server_time: float | None) -> float | None:
    from gemini_oauth._setup import issued_at

    issued = issued_at(data)
    if issued is None:
        return None
    return max(0.0, (server_time if server_time is not None else _clock.now()) - issued)


def _epoch_of(expiry: Any) -> float | None:
    from datetime import timezone

    return None if expiry is None else float(expiry.replace(tzinfo=timezone.utc).timestamp())


def _days(age: float | None) -> float | None:
    return None if age is None else round(age / 86400, 1)


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds:.0f} s"


__all__ = [
    "CHECKS",
    "FAILURE",
    "OK",
    "SKIPPED",
    "WARNING",
    "Check",
    "Report",
    "Visit",
    "check_backend",
    "run",
]
