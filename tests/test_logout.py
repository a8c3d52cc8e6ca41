"""Revocation as Google does it: an account's access to a client ends whole, so a replaced or
refused sign-in is revoked only where that ends nothing the user keeps."""

from __future__ import annotations

import io
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from gemini_oauth import _store
from gemini_oauth._credentials import login
from gemini_oauth._logout import ended_with, same_access, saved_logins
from gemini_oauth._useragent import approve, resolve_launcher
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import AccountMismatchError

SCOPES = "openid,email,cloud-platform"


def record(client: str, account: str, token: str = "1//emu.x") -> dict[str, str]:  # noqa: S107
    return {"client_id": client, "account": account, "refresh_token": token}


def test_same_access_is_one_client_and_one_account_or_one_that_cannot_be_told() -> None:
    assert same_access(record("c", "A@example.com"), record("c", "a@example.com"))
    assert same_access(record("c", ""), record("c", "a@example.com"))  # cannot be told apart
    assert not same_access(record("c", "a@example.com"), record("c", "b@example.com"))
    assert not same_access(record("c", "a@example.com"), record("d", "a@example.com"))


def test_ended_with_names_live_logins_of_the_same_access_only() -> None:
    mine = record("c", "a@example.com", "1//emu.mine")
    others = [
        ("profile twin", record("c", "a@example.com", "1//emu.twin")),
        ("profile itself", record("c", "a@example.com", "1//emu.mine")),
        ("profile ended", record("c", "a@example.com", "")),
        ("profile other", record("c", "b@example.com", "1//emu.b")),
    ]
    assert ended_with(mine, others) == ["profile twin"]


def browser(visit: Callable[[str], object]) -> Callable[[str], bool]:
    """A browser for ``login(open_browser=...)``: it returns at once and visits meanwhile."""

    def open_browser(url: str) -> bool:
        threading.Thread(target=visit, args=(url,), daemon=True).start()
        return True

    return open_browser


def as_other_account(url: str) -> None:
    """The browser's account chooser picks other@ whatever login_hint asked for."""
    target = urllib.parse.urlsplit(resolve_launcher(url, 10.0))
    query = dict(urllib.parse.parse_qsl(target.query))
    query["login_hint"] = "other@example.com"
    approve(target._replace(query=urllib.parse.urlencode(query)).geturl())


def _sign_in(emulator: Emulator, client_secret_file: Path, profile: str, account: str) -> None:
    login(client_secret_file, SCOPES, profile=profile, login_hint=account,
          open_browser=browser(approve), out=io.StringIO())  # fmt: skip


def test_saved_logins_lists_profiles_and_a_users_adc_file(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    _sign_in(emulator, client_secret_file, "work", "tester@example.com")
    names = [name for name, _ in saved_logins()]
    assert names == ["profile work"]
    assert [name for name, _ in saved_logins(skip_profile="work")] == []


def test_a_refused_sign_in_sharing_access_with_a_saved_login_is_dropped_not_revoked(
    emulator: Emulator, client_secret_file: Path
) -> None:
    """Profile 'personal' is other@'s login to this client. Signing in to 'work' as other@ by
    mistake is refused; revoking that sign-in would end 'personal' too, so it is only dropped."""
    emulator.control.add_user("other@example.com")
    _sign_in(emulator, client_secret_file, "personal", "other@example.com")
    personal = _store.profile_file("personal").read()
    assert personal is not None

    with pytest.raises(AccountMismatchError) as info:
        login(client_secret_file, SCOPES, profile="work", login_hint="tester@example.com",
              open_browser=browser(as_other_account), out=io.StringIO())  # fmt: skip
    assert "not revoked" in info.value.message and "profile personal" in info.value.message
    assert emulator.control.counters().get("revoke", 0) == 0
    assert emulator.state.live_grant(personal["refresh_token"]) is not None
    assert _store.profile_file("work").read() is None


def test_a_refused_sign_in_sharing_nothing_is_revoked(
    emulator: Emulator, client_secret_file: Path
) -> None:
    emulator.control.add_user("other@example.com")

    with pytest.raises(AccountMismatchError, match="its grant was revoked"):
        login(client_secret_file, SCOPES, profile="work", login_hint="tester@example.com",
              open_browser=browser(as_other_account), out=io.StringIO())  # fmt: skip
    assert emulator.control.counters()["revoke"] == 1
