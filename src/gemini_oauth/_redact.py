"""Redaction of OAuth secrets from text, and text from elsewhere made safe to show.

``redact`` is the last line of defence for logs and error output; ``server_text`` makes what a
server said fit for an error message; ``terminal_text`` keeps other text (model output, names
from the API) from driving the terminal: ESC sequences could retitle it, write the clipboard
(OSC 52) or hide what came before.

Nothing should ever hand a secret to a log or an error message; this catches what slips through.
It hides values by name (``code=``, ``state=``, ``"access_token": "..."``, ``Authorization:
Bearer ...``, ``x-goog-api-key: ...``) in query strings, form bodies, JSON, Python reprs and
HTTP headers, and by shape (access tokens ``ya29.``, refresh tokens ``1//``, authorization codes
``4/``, client secrets ``GOCSPX-``, API keys ``AIza``, JWTs, PEM private keys) anywhere else.
"""

from __future__ import annotations

import logging
import re

MASK = "[REDACTED]"

#: Names whose values are secret as ``name=value`` or ``"name": "value"``.
SECRET_NAMES = (
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "client_secret",
    "code_verifier",
    "code_challenge",
    "code",
    "state",
    "key",
    "api_key",
    "x-goog-api-key",
    "password",
    "assertion",
    "private_key",
)
#: Names whose values are secret also as ``name: value`` (headers); not the prose-prone short ones.
HEADER_NAMES = tuple(n for n in SECRET_NAMES if "_" in n or "-" in n)


def _alt(names: tuple[str, ...]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


_M = re.escape(MASK)
# URL-safe base64, percent escapes, and the dots and slashes of tokens
_VALUE_CHARS = r"[\w\-.~+/=%]"
_SLASH = r"(?:/|%2F)"
# an unquoted value; MASK first, so a redacted text is a fixed point
_BARE = rf"""(?:{_M}|[^\s"'\\&#<>,;)\]}}]+)"""
_NAME_START = r"(?:(?<![\w\-.])|(?<=%3F)|(?<=%26))"  # also inside a percent-encoded URL

_PEM = r"-----BEGIN[A-Z ]*PRIVATE KEY-----.*?(?:-----END[A-Z ]*PRIVATE KEY-----|$)"
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # "name": "value" and 'name': 'value' (JSON, Python reprs), also JSON escaped inside a string
    (
        re.compile(
            rf"""(\\?(["'])(?:{_alt(SECRET_NAMES)})\\?\2\s*:\s*\\?(["']))(?:(?!\\?\3)(?:\\.|.))*""",
            re.I,
        ),
        rf"\1{MASK}",
    ),
    # name=value and name%3Dvalue: query strings, form bodies, keyword reprs (quoted or not)
    (
        re.compile(
            rf"""({_NAME_START}(?:{_alt(SECRET_NAMES)})(?:=|%3D))(?:'[^']*'?|"[^"]*"?|{_BARE}?)""",
            re.I,
        ),
        rf"\1{MASK}",
    ),
    # Authorization headers (any scheme), other secret headers, and bearer tokens anywhere
    (
        re.compile(
            rf"""(authorization\\?["']?\s*[:=]\s*\\?["']?(?:(?:bearer|basic)\s+)?){_BARE}""", re.I
        ),
        rf"\1{MASK}",
    ),
    (re.compile(rf"({_NAME_START}(?:{_alt(HEADER_NAMES)}):[ \t]*){_BARE}", re.I), rf"\1{MASK}"),
    (re.compile(rf"(\bbearer\s+)(?:{_M}|[^\s\"'\\,;)\[\]}}]{{8,}})", re.I), rf"\1{MASK}"),
    # values recognisable by their shape alone
    (re.compile(rf"ya29\.{_VALUE_CHARS}+"), f"ya29.{MASK}"),
    (re.compile(rf"(?<![\w.%])1{_SLASH}{_SLASH}{_VALUE_CHARS}+"), f"1//{MASK}"),
    (re.compile(rf"(?<![\w.%/])4{_SLASH}{_VALUE_CHARS}{{6,}}"), f"4/{MASK}"),
    (re.compile(r"GOCSPX-[\w\-]+"), f"GOCSPX-{MASK}"),
    # JWTs (id tokens, assertions, self-signed access tokens) and PEM private keys
    (re.compile(r"\beyJ[\w\-]{4,}\.eyJ[\w\-]{4,}\.[\w\-]*"), MASK),
    (re.compile(_PEM, re.S), MASK),
    (re.compile(r"AIza[\w\-]{20,}"), f"AIza{MASK}"),
)


def redact(text: str) -> str:
    """``text`` with every value that looks like an OAuth secret replaced by ``[REDACTED]``."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record's message, exception text and stack."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the template, drop the args
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


#: C0 and C1 control characters and DEL, but for tab and newline: what a terminal acts on.
_CONTROLS = dict.fromkeys(
    [c for c in range(0x20) if c not in (0x09, 0x0A)] + [0x7F, *range(0x80, 0xA0)]
)


def terminal_text(text: str) -> str:
    """``text`` without C0/C1 control characters (ESC, CSI, OSC, CR, BEL...) but tab and newline."""
    return text.translate(_CONTROLS)


_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in (0x7F, *range(0x80, 0xA0))}


def json_for_terminal(text: str) -> str:
    """JSON text with DEL and C1 characters escaped (json escapes C0 itself): the same data."""
    return text.translate(_JSON_ESCAPES)


def server_text(value: object, limit: int = 200) -> str:
    """Text a server or library sent, made fit for an error message: one line, short, redacted.

    Error descriptions are the server's words and may echo what was sent; this keeps them useful
    without trusting them. Control characters (terminal escapes, bidi overrides) are dropped.
    """
    line = "".join(c for c in " ".join(str(value).split()) if c.isprintable())
    return redact(line if len(line) <= limit else line[: limit - 1] + "…")
