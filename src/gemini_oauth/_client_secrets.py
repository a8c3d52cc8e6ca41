"""Find, read and validate a Desktop ("installed") OAuth client file from Google's console."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gemini_oauth._constants import CLIENT_SECRET_ENV
from gemini_oauth._urls import checked_url, host_of, is_trusted_host
from gemini_oauth.errors import ClientSecretError


@dataclass(frozen=True)
class ClientSecret:
    """An installed OAuth client; its secret is not confidential (RFC 8252 §8.5) but never shown."""

    client_id: str
    client_secret: str = field(repr=False)
    auth_uri: str
    token_uri: str
    revoke_uri: str
    project_id: str = ""
    redirect_uris: tuple[str, ...] = ()
    path: Path | None = None


def find_client_secret(explicit: str | Path | None = None, *, cwd: Path | None = None) -> Path:
    """The client file: explicit, else $GEMINI_OAUTH_CLIENT_SECRET, else ./client_secret.json,
    else the one ./client_secret_*.json."""
    chosen = explicit or os.environ.get(CLIENT_SECRET_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if path.is_file():
            return path
        if explicit:
            raise ClientSecretError(f"OAuth client file {str(path)!r} does not exist.")
        raise ClientSecretError(
            f"${CLIENT_SECRET_ENV} names {str(path)!r}, which does not exist.",
            hint=f"Point ${CLIENT_SECRET_ENV} at the Desktop client file you downloaded, or "
            "unset it to use ./client_secret.json.",
        )
    here = cwd or Path.cwd()
    if (here / "client_secret.json").is_file():
        return here / "client_secret.json"
    found = sorted(p for p in here.glob("client_secret_*.json") if p.is_file())
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(p.name for p in found)
        raise ClientSecretError(
            f"Several OAuth client files in {str(here)!r}: {names}.",
            hint="Choose one with --client-secret PATH or $GEMINI_OAUTH_CLIENT_SECRET.",
        )
    raise ClientSecretError(
        f"No OAuth client file: no --client-secret, no ${CLIENT_SECRET_ENV}, and no "
        f"client_secret.json or client_secret_*.json in {str(here)!r}."
    )


def load_client_secret(path: str | Path | None = None) -> ClientSecret:
    """Read and validate an installed client file (found with ``find_client_secret`` if no path)."""
    file = find_client_secret(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClientSecretError(f"Cannot read {str(file)!r}: {exc.strerror}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ClientSecretError(
            f"{str(file)!r} is not valid JSON ({type(exc).__name__}).",
            hint="Download the file again from Google Cloud console > Google Auth platform > "
            "Clients.",
        ) from None
    return client_from_dict(data, path=file)


def client_from_dict(data: Any, *, path: Path | None = None) -> ClientSecret:
    """Validate the parsed JSON of a client file."""
    where = repr(str(path)) if path else "The OAuth client"
    if not isinstance(data, dict):
        raise ClientSecretError(f"{where} is not a JSON object.")
    if "installed" not in data:
        if data.get("type") == "service_account":
            file = str(path) if path else "KEY.json"
            raise ClientSecretError(
                f"{where} is a service-account key ({data.get('client_email') or 'no email'}), "
                "not an OAuth client: a service account needs no sign-in.",
                hint="Use it as Application Default Credentials, e.g. "
                f"GOOGLE_APPLICATION_CREDENTIALS={_shell_word(file)} gemini-oauth models list "
                "--adc. To sign in as yourself, download a 'Desktop app' OAuth client from "
                "Google Cloud console > Google Auth platform > Clients.",
            )
        if "web" in data:
            raise ClientSecretError(
                f"{where} is a 'Web application' client; command-line sign-in needs a "
                "'Desktop app' client.",
                hint="In Google Cloud console > Google Auth platform > Clients, create a client "
                "of type 'Desktop app', download its JSON and use that file.",
            )
        kinds = ", ".join(repr(k) for k in data) or "nothing"
        raise ClientSecretError(
            f"{where} has no 'installed' section (found {kinds}); it is not a Desktop client file."
        )
    body = data["installed"]
    if not isinstance(body, dict):
        raise ClientSecretError(f"{where}: 'installed' is not a JSON object.")
    missing = [
        k for k in ("client_id", "client_secret", "auth_uri", "token_uri") if not body.get(k)
    ]
    if missing:
        raise ClientSecretError(f"{where} lacks {', '.join(missing)} in 'installed'.")
    for key in ("client_id", "client_secret", "auth_uri", "token_uri", "revoke_uri", "project_id"):
        if key in body and not isinstance(body[key], str):
            raise ClientSecretError(f"{where}: 'installed.{key}' is not a string.")
    for key in ("client_id", "project_id"):  # shown on the terminal: printable, no blanks
        value = body.get(key, "")
        if not (value.isascii() and value.isprintable() and " " not in value):
            raise ClientSecretError(f"{where}: 'installed.{key}' is not a plain id.")
    if not body["client_secret"].isprintable():
        raise ClientSecretError(f"{where}: 'installed.client_secret' has control characters.")
    endpoints = {
        key: check_endpoint(key, body[key], where)
        for key in ("auth_uri", "token_uri", "revoke_uri")
        if body.get(key)
    }
    token_uri = endpoints["token_uri"]
    redirects = body.get("redirect_uris", [])
    if not isinstance(redirects, list) or not all(isinstance(u, str) for u in redirects):
        raise ClientSecretError(f"{where}: 'installed.redirect_uris' is not a list of strings.")
    return ClientSecret(
        client_id=body["client_id"],
        client_secret=body["client_secret"],
        auth_uri=endpoints["auth_uri"],
        token_uri=token_uri,
        revoke_uri=endpoints.get("revoke_uri") or _origin(token_uri) + "/revoke",
        project_id=body.get("project_id", ""),
        redirect_uris=tuple(redirects),
        path=path,
    )


def check_endpoint(name: str, url: str, where: str = "The OAuth client") -> str:
    """The endpoint rebuilt from checked parts (``_urls.checked_url``: https, or http on a
    loopback host for the emulator; RFC 3986 characters only); ClientSecretError otherwise."""
    try:
        return checked_url(url)
    except ValueError as exc:
        raise ClientSecretError(
            f"{where}: '{name}' must be an https:// URL (or http:// on 127.0.0.1 for the "
            f"emulator), but {exc}: {url[:100]!r}.",
            hint="Download the client file again from Google Cloud console > Google Auth "
            "platform > Clients.",
        ) from None


def endpoint_warnings(client: ClientSecret) -> list[str]:
    """What to tell the user before signing in: endpoints that are neither Google's nor local."""
    notes = []
    for name in ("auth_uri", "token_uri", "revoke_uri"):
        url = getattr(client, name)
        if not is_trusted_host(host_of(url)):
            notes.append(
                f"the client file's {name} is {url}, which is not Google's: your sign-in, "
                "authorization code and tokens go there."
            )
    return notes


def _shell_word(text: str) -> str:
    """``text`` as one word for a POSIX shell (quoted only when it needs it)."""
    import shlex

    return shlex.quote(text)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
