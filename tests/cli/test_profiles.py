"""``gemini-oauth profiles`` and ``profiles use``, as real processes against the emulator."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx

from gemini_oauth import _store as store
from gemini_oauth.emulator import Emulator

from .terminal import cli_env, command, on_terminal, plain


def gemini(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), capture_output=True, text=True, timeout=60, env=cli_env(**env)
    )


OTHER = "other@example.com"


def three_profiles(emulator: Emulator, seed_login: Any) -> None:
    """default (valid), work (valid, a quota project), old (another account, whose grant was
    revoked and then noticed: revoking ends every grant of an account and client)."""
    from gemini_oauth import _clock
    from gemini_oauth._client_secrets import client_from_dict
    from gemini_oauth._credentials import save_login
    from gemini_oauth._flow import LoginResult
    from gemini_oauth.scopes import DEFAULT_SCOPES

    seed_login("default")
    seed_login("work", quota_project=emulator.project_id)
    emulator.control.add_user(OTHER)
    old = emulator.control.issue_grant(list(DEFAULT_SCOPES), email=OTHER)
    result = LoginResult(
        access_token=old["access_token"],
        refresh_token=old["refresh_token"],
        expires_at=_clock.now() - 10,
        granted_scopes=DEFAULT_SCOPES,
        account=OTHER,
    )
    client = client_from_dict(emulator.client_secret_json())
    save_login(result, client, file=store.profile_file("old"))
    httpx.post(emulator.base_url + "/revoke", data={"token": old["refresh_token"]}, timeout=10)
    noticed = gemini("print-access-token", "--profile", "old")
    assert noticed.returncode == 3 and "login --profile old" in noticed.stderr


def test_profiles_lists_three_with_their_states(emulator: Emulator, seed_login: Any) -> None:
    three_profiles(emulator, seed_login)
    listed = gemini("profiles")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [r[:3] for r in rows] == [
        ["default", "*", "valid"],
        ["old", "", "needs login"],
        ["work", "", "valid"],
    ]
    assert rows[2][3:] == [emulator.user_email, emulator.project_id, emulator.client_id]
    assert rows[1][3] == OTHER  # the set-up is kept
    data = json.loads(gemini("profiles", "--json").stdout)
    assert data["default"] == "default" and data["default_from"] == "built-in"
    assert data["cache"]["backend"] == "file"
    states = {p["name"]: (p["state"], p["default"]) for p in data["profiles"]}
    assert states == {
        "default": ("valid", True),
        "old": ("login_needed", False),
        "work": ("valid", False),
    }
    old = next(p for p in data["profiles"] if p["name"] == "old")
    assert old["login_command"] == "gemini-oauth login --profile old" and old["login_needed"]
    assert gemini("profiles", "list", "--json").stdout == gemini("profiles", "--json").stdout
    code, screen = on_terminal(command("profiles"), cli_env(), columns=120)
    shown = plain(screen)
    assert code == 0 and "needs login" in shown and "Quota project" in shown
    for line in shown.splitlines():
        if line.startswith("default"):
            assert "*" in line


def test_profiles_use_chooses_the_default_everywhere(emulator: Emulator, seed_login: Any) -> None:
    three_profiles(emulator, seed_login)
    chosen = gemini("profiles", "use", "work")
    assert chosen.returncode == 0 and "Default profile: work" in chosen.stderr
    rows = [line.split("\t")[:2] for line in gemini("profiles").stdout.splitlines()]
    assert ["work", "*"] in rows and ["default", ""] in rows
    work = store.profile_file("work").read()
    assert work is not None
    assert gemini("print-access-token").stdout.strip() == work["token"]  # the fast path too
    status = json.loads(gemini("status", "--json").stdout)
    assert status["profile"] == "work" and status["quota_project"] == emulator.project_id
    listed = gemini(
        "models", "list", "--limit", "1", "--json", GOOGLE_GEMINI_BASE_URL=emulator.base_url
    )
    assert listed.returncode == 0
    hint = gemini("print-access-token", GEMINI_OAUTH_PROFILE="old")  # the variable wins
    assert hint.returncode == 3 and "login --profile old" in hint.stderr
    back = gemini("profiles", "use", "default")
    assert back.returncode == 0 and "no choice saved" in back.stderr
    default = store.profile_file("default").read()
    assert default is not None
    assert gemini("print-access-token").stdout.strip() == default["token"]
    new = gemini("profiles", "use", "ci")
    assert new.returncode == 0 and "gemini-oauth login --profile ci" in new.stderr
    data = json.loads(gemini("profiles", "--json").stdout)
    assert data["default"] == "ci" and data["default_from"] == "chosen"
    ci = next(p for p in data["profiles"] if p["name"] == "ci")
    assert ci["state"] == "not_logged_in" and ci["default"]
    missing = gemini("print-access-token")
    assert missing.returncode == 3 and "gemini-oauth login --profile ci" in missing.stderr
    bad = gemini("profiles", "use", "../etc")
    assert bad.returncode == 2 and "'../etc' is not a profile name" in bad.stderr
    for args in (("status",), ("print-access-token",), ("models", "list")):
        named = gemini(*args, GEMINI_OAUTH_PROFILE="..")  # bad usage, whichever path reads it
        assert named.returncode == 2, (args, named.stderr)
        assert "'..' (from $GEMINI_OAUTH_PROFILE) is not a profile name" in named.stderr
        flagged = gemini(*args, "--profile", "a/b")
        assert flagged.returncode == 2 and "'a/b' is not a profile name" in flagged.stderr


def test_a_choice_that_cannot_be_trusted_is_an_error(seed_login: Any) -> None:
    seed_login("default")
    choice = store.config_home() / "profiles" / "default-profile"
    choice.write_text("not a name!\n")
    refused = gemini("print-access-token")
    assert refused.returncode == 1 and "profiles use NAME" in refused.stderr
    assert refused.stdout == ""
    choice.unlink()
    choice.symlink_to(store.profile_file("default").path)
    status = gemini("status")
    assert status.returncode == 1
    remove = f"Remove it (rm {choice}), then choose again with 'gemini-oauth profiles use NAME'."
    assert remove in status.stderr
    again = gemini("profiles", "use", "work")  # the hint's own command: not a loop back to login
    assert again.returncode == 1 and "login" not in again.stderr
    assert f"Remove it (rm {choice}), then run 'gemini-oauth profiles use work' again." in (
        again.stderr.replace("\n  ", " ")
    )
    assert choice.is_symlink()  # the link is neither followed nor replaced
    choice.unlink()  # what the hint says
    assert gemini("profiles", "use", "work").returncode == 0


def test_profiles_read_through_a_cache_server(
    emulator: Emulator, seed_login: Any, redis_server: Any
) -> None:
    """With a cache URL in force, the profiles this machine knows by name are read from the
    cache (their state there), and the cache is named without its password."""
    from test_redis_cache import seed as seed_in_redis  # isort: skip

    url = redis_server.url()
    seed_login("work")  # a file of this machine, not in the cache
    seed_in_redis(emulator, url, "default")
    data = json.loads(gemini("profiles", "--json", "--cache", url).stdout)
    assert data["cache"] == {
        "backend": "redis",
        "location": f"redis://127.0.0.1:{redis_server.port}/0",
    }
    states = {p["name"]: p["state"] for p in data["profiles"]}
    assert states == {"default": "valid"}  # work has no record in the cache
    listed = gemini("profiles", GEMINI_OAUTH_CACHE_URL=url)
    assert listed.stdout.splitlines()[0].split("\t")[:3] == ["default", "*", "valid"]


def test_text_from_a_cache_server_cannot_drive_the_terminal(
    emulator: Emulator, redis_server: Any
) -> None:
    """A login in Redis is written by whoever may write there (another machine, a hostile
    server): its account, quota project and client id are shown without terminal escapes (a
    retitled window, OSC 52 clipboard writes) or line breaks, on a terminal and off one."""
    from test_redis_cache import seed as seed_in_redis  # isort: skip

    url = redis_server.url()
    seed_in_redis(emulator, url, "default")
    key = "gemini-oauth:profile:default"
    record = json.loads(redis_server.client().get(key))
    record.update(
        account="eve\x1b]0;PWNED\x07\x1b]52;c;ZWNobyBwd25lZA==\x1b\\@example.com",
        quota_project_id="proj\x1b[2J\rforged\tcell\nline",
        client_id="id\x9b31m\u202e.apps.googleusercontent.com",
    )
    redis_server.client().set(key, json.dumps(record))
    env = cli_env(GEMINI_OAUTH_CACHE_URL=url)
    code, screen = on_terminal(command("profiles"), env, columns=200)
    assert code == 0 and "eve" in screen and "forged" in screen, screen
    listed = subprocess.run(command("profiles"), capture_output=True, text=True, timeout=60,
                            env=env)  # fmt: skip
    assert listed.returncode == 0 and "eve" in listed.stdout, listed.stderr
    assert [len(line.split("\t")) for line in listed.stdout.splitlines()] == [6]
    assert not {"\x1b", "\x07", "\x9b", "\r", "\u202e"} & set(listed.stdout), listed.stdout
    screen = screen.replace("\r\n", "\n")  # the terminal's own line ends
    assert not {"\x07", "\x9b", "\r", "\u202e"} & set(screen), repr(screen)
    assert "\x1b]" not in screen and "\x1b[2J" not in screen, repr(screen)  # OSC, erase
    del record["refresh_token"]  # a login that ended: status lists what is kept
    redis_server.client().set(key, json.dumps({**record, "login_needed": "gone\x1b]0;X\x07"}))
    status = subprocess.run(command("status"), capture_output=True, text=True, timeout=60,
                            env=env)  # fmt: skip
    assert status.returncode == 3 and "Kept for the next login: account eve" in status.stderr
    assert not {"\x1b", "\x07", "\x9b"} & set(status.stderr), status.stderr
