"""The emulator's HTML: the consent form and Google-style error pages (no JS, all escaped)."""

from __future__ import annotations

from html import escape

from flask import Response

from gemini_oauth.emulator._scopes import DESCRIPTIONS

_STYLE = (
    "body{font-family:sans-serif;max-width:40em;margin:3em auto;color:#202124}"
    "h1{font-size:1.4em}label{display:block;margin:.4em 0}button{margin-right:1em}"
)
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def _page(title: str, body: str, status: int) -> Response:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return Response(html, status=status, mimetype="text/html", headers=_HEADERS)


def error_page(status: int, error: str, message: str, detail: str = "") -> Response:
    """Google's "Error 400: redirect_uri_mismatch" style page; never a redirect."""
    title = f"Error {status}: {error}"
    body = (
        f'<h1>Access blocked: this request is invalid</h1><h2 id="error">{escape(title)}</h2>'
        f'<p id="message">{escape(message)}</p>'
    )
    if detail:
        body += f'<p id="detail">{escape(detail)}</p>'
    return _page(title, body, status)


def unverified_page(app_name: str, email: str, consent_id: str) -> Response:
    """Google's warning before the consent of an unverified app in Testing: Continue or go back."""
    body = (
        '<h1 id="warning">Google hasn\'t verified this app</h1>'
        f'<p id="account">{escape(email)}</p>'
        f"<p>You've been given access to an app that's currently being tested ({escape(app_name)})."
        " You should only continue if you know the developer that invited you.</p>"
        '<form id="unverified" method="post" action="/o/oauth2/unverified">'
        f'<input type="hidden" name="consent" value="{escape(consent_id)}">'
        '<p><button type="submit" id="back" name="action" value="back">Back to safety</button>'
        '<button type="submit" id="continue" name="action" value="continue">Continue</button>'
        "</p></form>"
    )
    return _page("Google hasn't verified this app", body, 200)


def consent_page(app_name: str, email: str, consent_id: str, scopes: tuple[str, ...]) -> Response:
    """The consent form: one ticked checkbox per scope with Google's description of it beside
    the scope's name, Allow and Deny; a plain form POST."""

    def described(scope: str) -> str:
        said = DESCRIPTIONS.get(scope)
        if said is None:
            return f"<code>{escape(scope)}</code>"
        return f'<span class="description">{escape(said)}</span> <code>{escape(scope)}</code>'

    boxes = "".join(
        f'<label><input type="checkbox" name="scope" value="{escape(s)}" checked> '
        f"{described(s)}</label><br>"
        for s in scopes
    )
    body = (
        f'<h1>{escape(app_name)} wants access to your Google Account</h1><p id="account">'
        f"{escape(email)}</p>"
        f'<form id="consent" method="post" action="/o/oauth2/approval">'
        f'<input type="hidden" name="consent" value="{escape(consent_id)}">{boxes}'
        f'<p><button type="submit" id="allow" name="action" value="allow">Allow</button>'
        f'<button type="submit" id="deny" name="action" value="deny">Deny</button></p></form>'
    )
    return _page(f"Sign in - {app_name}", body, 200)
