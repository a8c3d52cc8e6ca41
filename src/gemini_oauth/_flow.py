"""The interactive login: loopback redirect in a browser, or headless paste; then the code exchange.

Mix-up defence (RFC 9700 §4.4): each login has its own random redirect path, and a code received on
it is only ever exchanged at the token_uri of the same client file whose auth_uri issued it.

Login CSRF defence (another local user finishing the login with their own account): the browser
gets a one-time launcher address, not the authorization URL, and the listener serves only this
user's programs where the system can tell (``_loopback``); after the exchange, the account must be
the one asked for with ``login_hint`` (else the new grant is revoked and AccountMismatchError
raised). ``_credentials.login`` adds the profile's own account to that check.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import socket
import sys
import webbrowser
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO
from urllib.parse import unquote

from gemini_oauth import _clock
from gemini_oauth._authorize import authorization_url, parse_callback
from gemini_oauth._constants import is_loopback_host
from gemini_oauth._loopback import LoopbackListener, callback_path
from gemini_oauth._pkce import make_state, make_verifier, s256_challenge
from gemini_oauth._token_endpoint import TokenResponse, exchange_code, revoke, token_request
from gemini_oauth.errors import (
    AccountMismatchError,
    CallbackError,
    GeminiOAuthError,
    InvalidGrantError,
    LoginError,
    LoginRequiredError,
    PortInUseError,
    ScopeNotGrantedError,
)
from gemini_oauth.scopes import USERINFO_EMAIL, expand_scope, granted_form, short_name

if TYPE_CHECKING:
    import httpx

    from gemini_oauth._client_secrets import ClientSecret

IDENTITY_SCOPES = frozenset(
    {
        "openid",
        "email",
        "profile",
        USERINFO_EMAIL,
        "https://www.googleapis.com/auth/userinfo.profile",
    }
)
PASTE_ATTEMPTS = 3
UNVERIFIED_PEERS_NOTE = (
    "note: this system does not tell which local user's program answers on 127.0.0.1; "
    "pass --login-hint EMAIL to have the account you sign in with checked."
)


@dataclass
class LoginResult:
    """What a completed login yields; secrets stay out of repr."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float
    granted_scopes: tuple[str, ...]
    id_token: str | None = field(default=None, repr=False)
    account: str = ""
    #: When the grant was made on the token endpoint's clock (its Date), if it said.
    issued_at: float | None = None


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel or Colab: input() works there, a TTY does not."""
    return any(m in sys.modules for m in ("ipykernel", "google.colab"))


def browser_usable() -> bool:
    """Whether opening a local browser can work here (not over SSH, in a container or notebook)."""
    if os.environ.get("BROWSER"):
        return True  # the user chose one explicitly
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False
    if in_notebook():
        return False
    if sys.platform.startswith("linux"):
        if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
            return False
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def run_login(
    client: ClientSecret,
    scopes: Iterable[str],
    *,
    no_browser: bool | None = None,
    port: int = 0,
    timeout: float = 300.0,
    login_hint: str | None = None,
    open_browser: Callable[[str], bool] | None = None,
    prompt_input: Callable[[str], str] | None = None,
    out: TextIO | None = None,
    http: httpx.Client | None = None,
    required_scopes: Iterable[str] | None = None,
    prompt: str | None = None,
    waiting: Waiting | None = None,
) -> LoginResult:
    """Sign in interactively and exchange the code (RFC 6749 §4.1, RFC 7636, RFC 8252).

    The wait for the browser runs inside ``waiting(message, timeout)`` (a command line turns a
    spinner with the time left); by default the message is said once on ``out``. An
    ``open_browser`` with a ``description`` ("a built-in headless user agent") is named as what
    opens the page.
    """
    requested = tuple(dict.fromkeys(expand_scope(s) for s in scopes if s.strip()))
    if not requested:
        raise LoginError("No scopes to ask for.", hint="Pass at least one scope with --scopes.")
    required = (
        tuple(expand_scope(s) for s in required_scopes if s.strip())
        if required_scopes is not None
        else tuple(s for s in requested if s not in IDENTITY_SCOPES)
    )
    stream = out if out is not None else sys.stderr
    verifier, state = make_verifier(), make_state()
    challenge = s256_challenge(verifier)
    if no_browser is None:
        no_browser = open_browser is None and not browser_usable()

    def url_for(redirect_uri: str) -> str:
        return authorization_url(
            client, redirect_uri, requested, state, challenge, login_hint, prompt
        )

    def exchange(redirect_uri: str, code: str) -> tuple[TokenResponse, float]:
        _say(stream, "Authorization received; exchanging it for tokens...")
        issued = _clock.now()  # before the request: the expiry errs on the early side
        form = token_request(client, code, verifier, redirect_uri)
        return _exchange(client, form, http), issued

    answer = None
    if not no_browser:

        def warn(text: str) -> None:
            _say(stream, f"warning: {text}")

        who = str(getattr(open_browser, "description", "") or "")
        with LoopbackListener(port=port, timeout=timeout, warn=warn) as listener:
            url = url_for(listener.redirect_uri)
            opening = (
                f"{who[:1].upper()}{who[1:]} opens the sign-in page; it is at:"
                if who
                else "Opening the sign-in page in your browser. If it does not open, visit:"
            )
            # said once a browser was launched: when none opens, the paste flow's is the address
            if _open(open_browser or webbrowser.open, listener.launcher(url)):
                _say(stream, opening)
                _say(stream, f"\n    {url}\n")
                if not listener.verify_peers and not login_hint:
                    _say(stream, UNVERIFIED_PEERS_NOTE)
                wait = waiting or functools.partial(said_once, stream)
                with wait(f"Waiting for {who or 'the browser'}", timeout):
                    code = listener.wait(state)
                answer = exchange(listener.redirect_uri, code)
            else:
                _say(stream, "No browser could be opened; switching to the paste flow.")
    if answer is None:
        ask = prompt_input or (lambda text: _ask(stream, text))
        answer = _paste_flow(url_for, state, port, ask, stream, exchange)
    token, issued = answer
    result = LoginResult(
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        expires_at=issued + token.expires_in,
        granted_scopes=token.granted_scopes or requested,
        id_token=token.id_token,
        account=token.account,
        issued_at=token.server_time,
    )
    if login_hint and not same_account(login_hint, result.account):
        said = discard(client, result, http)
        raise AccountMismatchError(
            f"You signed in as {shown_account(result.account)}, but --login-hint asked for "
            f"{login_hint}; nothing was saved and {said}.",
            expected=login_hint,
            actual=result.account,
            hint=f"Run 'gemini-oauth login --login-hint {login_hint}' again and choose "
            f"{login_hint} in the browser.",
        )
    _check_scopes(requested, required, result.granted_scopes, stream)
    return result


def same_account(one: str, other: str) -> bool:
    """The same Google account: case-insensitive; for Gmail, dots in the name do not count."""
    a, b = one.strip().lower(), other.strip().lower()
    if not a or not b:
        return False

    def canonical(email: str) -> str:
        name, _, domain = email.rpartition("@")
        if domain in ("gmail.com", "googlemail.com"):
            return name.replace(".", "") + "@gmail.com"
        return email

    return canonical(a) == canonical(b)


def shown_account(account: str) -> str:
    """An account for messages; an empty one is one the sign-in did not share."""
    return account or "an account whose address the sign-in did not share (no email scope)"


def discard(client: ClientSecret, result: LoginResult, http: httpx.Client | None = None) -> str:
    """Revoke a sign-in that will not be kept (RFC 7009); says what happened, never raises.

    Not when another saved login may be that account's access to this client: Google would end
    it too (``_logout``), and the unkept sign-in's tokens are simply dropped.
    """
    from gemini_oauth._logout import ended_with, saved_logins
    from gemini_oauth._transport import HttpxRequest

    unkept = {"client_id": client.client_id, "account": result.account, "refresh_token": ""}
    shared = ended_with(unkept, saved_logins())
    if shared:
        return (
            f"its tokens were dropped, not revoked (revoking them would also end "
            f"{', '.join(shared)})"
        )

    request = HttpxRequest(http)
    try:
        revoke(
            request,
            client.revoke_uri,
            result.refresh_token or result.access_token,
            kept="the new sign-in was not saved",
        )
    except GeminiOAuthError:
        return (
            "its grant could not be revoked (remove this app's access for that account at "
            "https://myaccount.google.com/permissions)"
        )
    finally:
        request.close()
    return "its grant was revoked"


def _say(stream: TextIO, text: str) -> None:
    print(text, file=stream, flush=True)


#: ``waiting(message, timeout)``: the context a wait of up to ``timeout`` seconds runs in.
Waiting = Callable[[str, float], AbstractContextManager[object]]


def said_once(stream: TextIO, message: str, timeout: float) -> AbstractContextManager[object]:
    """The plain ``Waiting``: the message, once, with the time allowed."""
    _say(stream, f"{message} (up to {timeout:g} s; Ctrl-C to cancel)...")
    return contextlib.nullcontext()


def no_terminal(prompt: str) -> str:
    """The paste prompt where there is no terminal: a browser was the only way, and it failed."""
    raise LoginRequiredError(
        "No browser could be opened, and there is no terminal to paste the sign-in address into.",
        hint="Run the program in a terminal, or set BROWSER to a browser command.",
    )


def _ask(stream: TextIO, text: str) -> str:
    """The prompt on ``stream`` (stderr: stdout stays data), the answer by plain input()."""
    print(text, end="", file=stream, flush=True)
    return input()


def _open(opener: Callable[[str], bool], url: str) -> bool:
    try:
        return bool(opener(url))
    except Exception:  # a broken browser setup means: fall back to pasting
        return False


def _paste_flow(
    url_for: Callable[[str], str],
    state: str,
    port: int,
    prompt_input: Callable[[str], str],
    stream: TextIO,
    exchange: Callable[[str, str], tuple[TokenResponse, float]],
) -> tuple[TokenResponse, float]:
    """Headless: the user opens the URL anywhere and pastes back the address the browser ended on.

    What people paste is forgiven (surrounding quotes, blanks, a trailing newline); an address
    cut off or already used gets another try while attempts are left. The loopback port is
    bound (not listened on) meanwhile: a browser on this machine gets "connection refused" and
    no other local process can take the port and receive the code.
    """
    reserve = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        try:
            reserve.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUseError(f"Cannot reserve 127.0.0.1:{port}: {exc.strerror}.") from None
        path = callback_path()
        bound = reserve.getsockname()[1]
        redirect_uri = f"http://127.0.0.1:{bound}{path}"
        _say(stream, "Open this address in a browser on any machine and sign in:")
        _say(stream, f"\n    {url_for(redirect_uri)}\n")
        _say(
            stream,
            "After you press Allow, the browser goes to http://127.0.0.1:... and shows an error "
            "such as 'This site can't be reached'. That is expected: copy the whole address from "
            "its address bar and paste it here.",
        )
        for attempt in range(1, PASTE_ATTEMPTS + 1):
            left = PASTE_ATTEMPTS - attempt
            try:
                text = unwrap_paste(prompt_input("Address the browser ended on: "))
            except EOFError:
                raise LoginError("No address was pasted (end of input).") from None
            try:
                code = parse_callback(text, state, path, expected_port=bound)
                return exchange(redirect_uri, code)
            except CallbackError as exc:
                _say(
                    stream,
                    f"That address does not fit this login: {_paste_problem(text, state, exc)}",
                )
            except InvalidGrantError as exc:
                if not left:
                    raise
                said = (exc.description or exc.error or "invalid_grant").rstrip(".")
                _say(
                    stream,
                    f"Google refused the code in that address ({said}): it looks cut off, or was "
                    "already used. If it was used, open the sign-in address above again for a "
                    "new one.",
                )
            if left:
                _say(
                    stream,
                    f"Paste the whole address, starting with http://127.0.0.1 ({left} left).",
                )
        raise CallbackError(f"No valid address after {PASTE_ATTEMPTS} attempts.")
    finally:
        reserve.close()


_QUOTES = {'"': '"', "'": "'", "`": "`", "<": ">", "\u201c": "\u201d", "\u2018": "\u2019"}


def unwrap_paste(text: str) -> str:
    """What was meant by a paste: without surrounding blanks, newlines or quotes (<>, "", '')."""
    text = text.strip()
    while len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def _paste_problem(text: str, state: str, refused: CallbackError) -> str:
    """Why a pasted address does not fit, in the words a person needs."""
    if not text:
        return "nothing was pasted; copy the whole address from the browser's address bar."
    if "://" not in text and not text.startswith("/") and "?" not in text and "=" not in text:
        return (
            "it looks like the code alone. Without the address around it, its state cannot be "
            "checked (a code alone could come from someone else's sign-in), so paste the whole "
            "address from the browser's address bar."
        )
    origin = re.match(r"(?i)https?://(\[[^\]/]*\]|[^/?#:@\[]+)", text)
    if origin and not is_loopback_host(origin.group(1)):
        return (
            f"that is an address of {origin.group(1)}, not the one the browser goes to after "
            "you press Allow. If the sign-in page showed an error, the sign-in did not finish: "
            "its page says why (an app blocked or not verified, a scope refused). Otherwise "
            "press Allow and copy the address of the page that then fails to load "
            "(http://127.0.0.1:...)."
        )
    shown = re.search(r"[?&]state=([^&#]*)", text)
    pasted = unquote(shown.group(1)) if shown else None
    if "?" not in text or (pasted is not None and pasted != state and state.startswith(pasted)):
        return "it looks cut off; copy the whole address again."
    if pasted == state and not re.search(r"[?&](code|error)=", text):
        return "it looks cut off (no code= part); copy the whole address again."
    return refused.message


def _exchange(
    client: ClientSecret, form: dict[str, str], http: httpx.Client | None
) -> TokenResponse:
    """POST the code and verifier to the token endpoint of the same client (RFC 6749 §4.1.3)."""
    from gemini_oauth._transport import HttpxRequest

    request = HttpxRequest(http)
    try:
        return exchange_code(request, client.token_uri, form)
    finally:
        request.close()


def _check_scopes(
    requested: tuple[str, ...], required: tuple[str, ...], granted: tuple[str, ...], out: TextIO
) -> None:
    """Google lets users untick scopes (granular consent): a missing required one is an error."""
    have = {granted_form(s) for s in granted}
    missing_required = [s for s in required if granted_form(s) not in have]
    if missing_required:
        names = ", ".join(short_name(s) for s in missing_required)
        raise ScopeNotGrantedError(
            f"The sign-in did not grant: {names}.", missing=list(missing_required)
        )
    missing = [short_name(s) for s in requested if granted_form(s) not in have]
    if missing:
        _say(out, f"warning: these optional permissions were not granted: {', '.join(missing)}.")


def keep_account(
    held: str,
    where: str,
    client: ClientSecret,
    result: LoginResult,
    out: TextIO | None,
    prompt_input: Callable[[str], str] | None,
    http: httpx.Client | None,
    login: str,
    logout: str | None,
) -> None:
    """A sign-in as another account than the one cached replaces it only if the user says so.

    Asked on the terminal (or ``prompt_input``); without one, refused. A refused sign-in is
    revoked (``discard``) and AccountMismatchError raised; nothing is saved. ``login`` is the
    command that signs in to the same place (with its --profile and --cache); ``logout`` the one
    that deletes it, or None for a token file (whose login command takes no flags).
    """

    if same_account(held, result.account):
        return
    stream = out if out is not None else sys.stderr
    new = result.account or "(an account that was not shared)"
    question = f"You signed in as {new}, but {where} belongs to {held}; replace {held} with {new}?"
    if prompt_input is not None or sys.stdin.isatty() or in_notebook():
        print(question + " [y/N] ", end="", file=stream, flush=True)
        try:
            answer = (prompt_input or (lambda _: input()))("")
        except EOFError:
            answer = ""
        if answer.strip().lower() in ("y", "yes"):
            return
        said = discard(client, result, http)
        raise AccountMismatchError(
            f"Kept {held} in {where}; the sign-in as {shown_account(result.account)} was not "
            f"saved and {said}.",
            expected=held,
            actual=result.account,
            hint=f"Run '{login} --login-hint {held}' to sign in as {held}."
            if logout is not None
            else f"Run '{login}' and sign in as {held}.",
        )
    said = discard(client, result, http)
    replace = f"--login-hint {result.account}" if result.account else "--login-hint EMAIL"
    raise AccountMismatchError(
        f"You signed in as {shown_account(result.account)}, but {where} belongs to {held}; "
        f"with no terminal to ask on, nothing was saved and {said}.",
        expected=held,
        actual=result.account,
        hint=f"To replace {held}, run '{login} {replace}', or '{logout}' first."
        if logout is not None
        else f"To replace {held}, delete {where}, then run '{login}'.",
    )
