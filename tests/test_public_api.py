"""The public API is pinned: renaming or removing a name here is a deliberate, reviewed act."""

from __future__ import annotations

import subprocess
import sys

import gemini_oauth
from gemini_oauth import errors

PUBLIC = {
    "__version__",
    "AsyncGeminiClient",
    "CachedContentPage",
    "CachedCredentials",
    "FilePage",
    "GeminiClient",
    "ModelPage",
    "Retrying",
    "default_credentials",
    "genai_client",
    "load_creds",
    "load_profile",
    "login",
    "oauth_credentials",
    *errors.__all__,
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(gemini_oauth.__all__) == PUBLIC
    assert len(gemini_oauth.__all__) == len(PUBLIC)


def test_every_public_name_resolves() -> None:
    for name in gemini_oauth.__all__:
        assert getattr(gemini_oauth, name) is not None, name


def test_error_classes_are_the_ones_in_errors() -> None:
    for name in errors.__all__:
        assert getattr(gemini_oauth, name) is getattr(errors, name)
    assert issubclass(gemini_oauth.InvalidGrantError, gemini_oauth.GeminiOAuthError)


def test_dir_shows_only_public_names_and_modules() -> None:
    shown = set(dir(gemini_oauth))
    assert shown == PUBLIC | {"emulator", "errors", "scopes"}
    assert not {"TYPE_CHECKING", "annotations"} & shown


def test_public_modules_and_unknown_names() -> None:
    assert gemini_oauth.scopes.CLOUD_PLATFORM.endswith("/cloud-platform")
    try:
        gemini_oauth.store  # noqa: B018
    except AttributeError:
        pass
    else:
        raise AssertionError("gemini_oauth.store is private (gemini_oauth._store)")


def test_importing_the_package_imports_nothing_heavy() -> None:
    code = (
        "import sys, gemini_oauth\n"
        "heavy = {'httpx', 'google.auth', 'click', 'rich', 'typing'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
