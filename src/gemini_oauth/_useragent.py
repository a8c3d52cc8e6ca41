"""A headless user agent: open a consent page over HTTP, press Allow or Deny, follow the redirect.

Google's "hasn't verified this app" warning, shown first for an app in Testing, gets Continue, as
the quickstart tells users to press.

Used by the demo and by tests as the browser, e.g.
``BROWSER="python -m gemini_oauth._useragent %s"`` (webbrowser runs that without a shell).
Only consent pages with a plain HTML form are understood, such as the emulator's. A login's
one-time launcher address (``_loopback``) is followed to the authorization URL first.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from gemini_oauth.errors import LoginError
from gemini_oauth.scopes import expand_scope, short_name


@dataclass
class _Form:
    action: str = ""
    method: str = "get"
    fields: list[tuple[str, str]] = field(default_factory=list)
    checkboxes: list[tuple[str, str, bool]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    """Collect the consent form (``id="consent"``, else the first form) with html.parser."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str | None, _Form]] = []
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = _Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append((a.get("id"), self._current))
        elif self._current is None or "name" not in a:
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "checkbox":
                self._current.checkboxes.append((a["name"], a.get("value", "on"), "checked" in a))
            elif kind == "submit":
                self._current.buttons.append((a["name"], a.get("value", "")))
            elif kind not in ("button", "reset", "image", "file"):
                self._current.fields.append((a["name"], a.get("value", "")))
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self._current.buttons.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None

    def consent_form(self) -> _Form:
        for form_id, form in self.forms:
            if form_id == "consent":
                return form
        if not self.forms:
            raise LoginError("The consent page has no form this user agent understands.")
        return self.forms[0][1]

    def warning_form(self) -> _Form | None:
        """Google's "hasn't verified this app" page: a form whose way on is Continue."""
        for form_id, form in self.forms:
            if form_id == "unverified" or (form_id != "consent" and _CONTINUE in form.buttons):
                return form
        return None


_CONTINUE = ("action", "continue")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _check_http(url: str) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("only http:// and https:// URLs can be opened")


def resolve_launcher(url: str, timeout: float = 30.0) -> str:
    """The authorization URL behind a loopback launcher (one GET, as a browser would make);
    any other URL is returned as it is."""
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme != "http" or not loopback or "redirect_uri=" in parts.query:
        return url
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/", headers={"Host": parts.netloc})
        response = conn.getresponse()
        response.read()
        location = response.getheader("Location")
    finally:
        conn.close()
    if response.status in (301, 302, 303, 307, 308) and location:
        return urljoin(url, location)
    return url


def approve(
    url: str,
    *,
    action: str = "allow",
    untick: Iterable[str] = (),
    follow_redirect: bool = True,
    timeout: float = 30.0,
) -> str:
    """Open ``url``, submit its consent form with ``action``; return the final URL or Location.

    Scopes whose URL or short name is in ``untick`` are unticked. Redirects are followed within
    the authorization server; the one out of it is the client's, visited if ``follow_redirect``.
    """
    _check_http(url)
    url = resolve_launcher(url, timeout)
    drop = {name for item in untick for name in (item, expand_scope(item)) if item.strip()}
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        page = client.get(url)
        for _ in range(5):
            if not page.is_redirect:
                break
            target = urljoin(str(page.url), page.headers["location"])
            if _origin(target) != _origin(url):
                return _leave(target, follow_redirect, timeout)
            page = client.get(target)
        if page.status_code != 200:
            raise LoginError(f"The consent page answered HTTP {page.status_code}.")
        parser = _FormParser()
        parser.feed(page.text)
        warning = parser.warning_form()
        if warning is not None:  # "Google hasn't verified this app": Continue, as users are told
            page = _press_continue(client, page, warning)
            parser = _FormParser()
            parser.feed(page.text)
        form = parser.consent_form()
        data = list(form.fields)
        data += [
            (name, value)
            for name, value, checked in form.checkboxes
            if checked and value not in drop and short_name(value) not in drop
        ]
        pressed = [(n, v) for n, v in form.buttons if v == action]
        if not pressed:
            raise LoginError(f"The consent page has no {action!r} button.")
        data.append(pressed[0])
        target = urljoin(str(page.url), form.action or str(page.url))
        _check_http(target)
        grouped: dict[str, list[str]] = {}
        for name, value in data:
            grouped.setdefault(name, []).append(value)
        if form.method == "post":
            answer = client.post(target, data=grouped)
        else:
            answer = client.get(target, params=grouped)
        if not answer.is_redirect:
            raise LoginError(
                f"The consent form answered HTTP {answer.status_code}, not a redirect."
            )
        return _leave(urljoin(target, answer.headers["location"]), follow_redirect, timeout)


def _press_continue(client: httpx.Client, page: httpx.Response, warning: _Form) -> httpx.Response:
    """Submit the unverified-app warning with Continue; the consent page it leads to."""
    target = urljoin(str(page.url), warning.action or str(page.url))
    _check_http(target)
    if _origin(target) != _origin(str(page.url)):
        raise LoginError("The unverified-app warning points off the sign-in site.")
    fields = dict([*warning.fields, _CONTINUE])
    if warning.method == "post":
        consent = client.post(target, data=fields)
    else:
        consent = client.get(target, params=fields)
    if consent.status_code != 200:
        raise LoginError(f"The consent page answered HTTP {consent.status_code}.")
    return consent


def _leave(location: str, follow: bool, timeout: float) -> str:
    """Visit the client's redirect (the loopback page) like a browser would, or just return it.

    http.client, not httpx: httpx logs request URLs at INFO, and this one carries the code.
    """
    parts = urlsplit(location)
    _check_http(location)
    if follow:
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname or "", parts.port, timeout=timeout)
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", target, headers={"Host": parts.netloc})
            conn.getresponse().read()
        finally:
            conn.close()
    return location


def report_failure(url: str, timeout: float = 10.0) -> None:
    """Tell the waiting client that the browser step failed, so it need not wait for its timeout.

    Sends ``error=server_error`` with the login's own ``state`` to its loopback redirect URI,
    as an authorization server reports a failed request (RFC 6749 §4.1.2.1). Loopback only.
    """
    query = parse_qs(urlsplit(url).query)
    redirect, state = query.get("redirect_uri", [""])[0], query.get("state", [""])[0]
    host = urlsplit(redirect).hostname
    if not state or urlsplit(redirect).scheme != "http" or host not in ("127.0.0.1", "::1"):
        return
    sep = "&" if urlsplit(redirect).query else "?"
    failure = f"{redirect}{sep}{urlencode({'error': 'server_error', 'state': state})}"
    # nobody listening (the paste flow) is fine: the user sees the failure where they are
    with contextlib.suppress(OSError, http.client.HTTPException):
        _leave(failure, True, timeout)


class HeadlessUserAgent:
    """An ``open_browser`` callable for run_login: approves in a daemon thread, returns True."""

    #: What run_login names as opening the page (it is no browser of the user's).
    description = "a built-in headless user agent"

    def __init__(self, *, action: str = "allow", untick: Iterable[str] = (), timeout: float = 30.0):
        self.action, self.untick, self.timeout = action, tuple(untick), timeout
        self.result: str | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __call__(self, url: str) -> bool:
        _check_http(url)
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()
        return True

    def _run(self, url: str) -> None:
        try:
            url = resolve_launcher(url, self.timeout)
            self.result = approve(url, action=self.action, untick=self.untick, timeout=self.timeout)
        except Exception as exc:  # reported through .error, the thread must not die loudly
            self.error = exc
            report_failure(url, self.timeout)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def main(argv: list[str] | None = None) -> int:
    """``python -m gemini_oauth._useragent [--deny] [--untick SCOPE] URL``.

    webbrowser waits for the command, while the listener only serves after the browser returns,
    so by default the work runs in a detached child and this process exits at once.
    """
    parser = argparse.ArgumentParser(prog="python -m gemini_oauth._useragent")
    parser.add_argument("url")
    parser.add_argument("--deny", action="store_true", help="press Deny instead of Allow")
    parser.add_argument("--untick", action="append", default=[], metavar="SCOPE")
    parser.add_argument("--no-follow", action="store_true", help="print the redirect, skip it")
    parser.add_argument("--foreground", action="store_true", help="do not detach")
    args = parser.parse_args(argv)
    if urlsplit(args.url).scheme not in ("http", "https"):
        print("useragent: refusing a URL that is not http(s)", file=sys.stderr)
        return 2
    if not args.foreground:
        argv_child = list(argv if argv is not None else sys.argv[1:])
        subprocess.Popen(  # same interpreter, argument list: no shell
            [sys.executable, "-m", "gemini_oauth._useragent", "--foreground", *argv_child],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        return 0
    try:
        args.url = resolve_launcher(args.url)
        final = approve(
            args.url,
            action="deny" if args.deny else "allow",
            untick=args.untick,
            follow_redirect=not args.no_follow,
        )
    except LoginError as exc:
        print(f"useragent: {exc.message}", file=sys.stderr)
        report_failure(args.url)
        return 1
    except (httpx.HTTPError, OSError, http.client.HTTPException) as exc:  # no URL: name the type
        print(f"useragent: HTTP failure ({type(exc).__name__})", file=sys.stderr)
        report_failure(args.url)
        return 1
    if args.no_follow:
        print(final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
