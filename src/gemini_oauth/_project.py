"""Google Cloud project ids: the one syntactic rule, wherever an id enters (a flag, the
environment, a stored profile, an ADC file), before it is sent as ``x-goog-user-project``.

A check with the server (Cloud Resource Manager's ``testIamPermissions``) may come on top of it;
it starts by calling ``is_project_id``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gemini_oauth.errors import GeminiOAuthError, QuotaProjectError

# my-project-123 (6-30 characters), a legacy domain-scoped example.com:my-project, or a number.
_PROJECT_ID = re.compile(r"(?:[a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}")
FORMAT_HINT = "Use the project ID (e.g. my-project-123) or number from the console."


def is_project_id(value: object) -> bool:
    """A Google Cloud project id (``my-project-123``, ``example.com:proj``) or number."""
    return isinstance(value, str) and _PROJECT_ID.fullmatch(value) is not None


def check_project_id(
    value: object,
    *,
    source: str = "The quota project",
    error: Callable[..., GeminiOAuthError] = QuotaProjectError,
    hint: str = FORMAT_HINT,
) -> str:
    """``value`` if it is a project id, else ``error`` naming ``source`` and ``hint``."""
    if is_project_id(value):
        assert isinstance(value, str)
        return value
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise error(f"{source} {shown} is not a Google Cloud project id.", hint=hint)


__all__ = ["FORMAT_HINT", "check_project_id", "is_project_id"]
