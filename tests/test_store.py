"""The token cache: paths, modes, atomic writes, symlinks, repair, set-aside, locks, profiles."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gemini_oauth import _store as store
from gemini_oauth.errors import CacheError

SRC = str(Path(__file__).resolve().parent.parent / "src")


def entry(**extra: Any) -> dict[str, Any]:
    data = {
        "type": "authorized_user",
        "client_id": "cid.apps.googleusercontent.com",
        "client_secret": "store-test-secret",
        "refresh_token": "store-test-refresh",
        "token": "store-test-access",
        "expiry": "2099-01-01T00:00:00Z",
        "scopes": ["openid"],
    }
    return {**data, **extra}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# -- paths ---------------------------------------------------------------------------------------


def test_config_home_honours_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_OAUTH_HOME", str(tmp_path / "h"))
    assert store.config_home() == tmp_path / "h"


def test_config_home_matches_platformdirs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("GEMINI_OAUTH_HOME", raising=False)
    assert str(store.config_home()) == platformdirs.user_config_dir("gemini-oauth")


@pytest.mark.parametrize("bad", ["", "..", "../x", "a/b", "a\\b", ".hidden", "a b", "x" * 65, "é"])
def test_profile_names_are_validated(bad: str, tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="Invalid profile name") as info:
        store.profile_file(bad, tmp_path)
    assert info.value.hint


def test_profiles_live_under_home_and_are_listed(tmp_path: Path) -> None:
    for name in ("work", "default", "a.b-c_d"):
        store.profile_file(name, tmp_path).write(entry())
    (tmp_path / "profiles" / "notes.txt").write_text("x")
    f = store.profile_file("work", tmp_path)
    assert f.path == tmp_path / "profiles" / "work.json"
    assert f.lock_path == tmp_path / "profiles" / ".work.json.lock"
    assert store.list_profiles(tmp_path) == ["a.b-c_d", "default", "work"]
    assert store.list_profiles(tmp_path / "nowhere") == []


# -- writing -------------------------------------------------------------------------------------


def test_choosing_a_profile_names_the_fix_of_what_is_wrong(tmp_path: Path) -> None:
    """A planted choice file: remove it and choose again. A folder that cannot be trusted: the
    folder's own fix, never 'rm' of a choice file that is not the problem."""
    home = tmp_path / "home"
    choice = home / "profiles" / "default-profile"
    store.choose_profile("work", home)
    choice.unlink()
    choice.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CacheError) as planted:
        store.choose_profile("ci", home)
    assert planted.value.hint.startswith(f"Remove it (rm {choice}), then run 'gemini-oauth")
    (home / "profiles").rename(tmp_path / "real-profiles")
    (home / "profiles").symlink_to(tmp_path / "real-profiles")  # not this user's real folder
    with pytest.raises(CacheError) as folder:
        store.choose_profile("ci", home)
    assert "rm " not in folder.value.hint and str(home / "profiles") in folder.value.message


def test_roundtrip_and_modes(tmp_path: Path) -> None:
    f = store.profile_file("default", tmp_path / "home")
    assert f.read() is None
    f.write(entry())
    assert f.read() == entry()
    assert mode(f.path) == 0o600
    assert mode(f.path.parent) == 0o700 and mode(f.path.parent.parent) == 0o700
    assert [p.name for p in f.path.parent.iterdir() if p.name.startswith(".")] == []
    assert f.delete() and not f.delete() and f.read() is None


def test_modes_under_umask_000(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = (
        "import os, sys; os.umask(0)\n"
        "from gemini_oauth import _store as store\n"
        "f = store.profile_file('default', sys.argv[1])\n"
        "f.write({'client_id': 'c', 'client_secret': 's', 'refresh_token': 'r'})\n"
        "with f.lock(): pass\n"
        "f.write({'client_id': 'c', 'client_secret': 's', 'refresh_token': 'r2'})\n"
    )
    subprocess.run([sys.executable, "-c", code, str(home)], check=True, timeout=30)
    assert mode(home) == 0o700
    assert mode(home / "profiles") == 0o700
    assert mode(home / "profiles" / "default.json") == 0o600
    assert json.loads((home / "profiles" / "default.json").read_text())["refresh_token"] == "r2"


def test_plain_token_file_does_not_touch_its_folder(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    f = store.TokenFile(tmp_path / "token.json")
    f.write(entry())
    assert mode(tmp_path) == 0o755 and mode(f.path) == 0o600
    assert f.lock_path == tmp_path / ".token.json.lock"  # hidden: nothing to wonder about
    with f.lock():
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".token.json.lock", "token.json"]


def test_home_that_cannot_be_a_folder_is_a_cache_error(tmp_path: Path) -> None:
    """A GEMINI_OAUTH_HOME under a plain file: a CacheError naming the fix, not an OSError."""
    (tmp_path / "plain").write_text("x")
    file = store.profile_file("default", home=tmp_path / "plain" / "home")
    for action in (file.read, lambda: file.write(entry()), lambda: file.lock().__enter__()):
        with pytest.raises(CacheError) as info:
            action()
        assert "GEMINI_OAUTH_HOME" in info.value.hint


def test_symlinked_cache_is_refused(tmp_path: Path) -> None:
    f = store.profile_file("default", tmp_path)
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(entry()))
    f.path.parent.mkdir(parents=True)
    f.path.symlink_to(target)
    # the message names the link, not the OS's "Too many levels of symbolic links" from O_NOFOLLOW
    with pytest.raises(CacheError, match="is a symbolic link; refusing to use it") as info:
        f.read()
    assert "Remove the link" in info.value.hint and "login" in info.value.hint
    with pytest.raises(CacheError, match="symbolic link"):
        f.write(entry(token="other"))
    assert json.loads(target.read_text()) == entry()


def test_symlinked_profiles_dir_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "home").mkdir(mode=0o700)
    (tmp_path / "home" / "profiles").symlink_to(real)
    with pytest.raises(CacheError, match="symbolic link"):
        store.profile_file("default", tmp_path / "home").write(entry())
    assert list(real.iterdir()) == []


def test_loose_modes_are_repaired_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    f = store.profile_file("default", tmp_path / "home")
    f.write(entry())
    f.path.chmod(0o644)
    f.path.parent.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="gemini_oauth._store"):
        assert f.read() == entry()
    assert mode(f.path) == 0o600 and mode(f.path.parent) == 0o700
    text = caplog.text
    assert "0600" in text and "0700" in text
    assert "store-test" not in text


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        json.dumps(entry()).encode()[:40],
        b"[1, 2]",
        b'"a string"',
        json.dumps({"client_id": "c"}).encode(),
        json.dumps(entry(type="service_account")).encode(),
        json.dumps(entry(scopes=5)).encode(),
        b"\xff\xfe not utf-8",
    ],
    ids=["empty", "brace", "half", "list", "string", "missing", "type", "scopes", "binary"],
)
def test_corrupt_cache_is_set_aside(
    content: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    f = store.profile_file("default", tmp_path)
    f.write(entry())
    f.path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="gemini_oauth._store"):
        assert f.read() is None
    assert not f.path.exists()
    aside = list(f.path.parent.glob("default.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert mode(aside[0]) == 0o600
    assert "corrupt" in caplog.text and "store-test" not in caplog.text
    assert store.list_profiles(tmp_path) == []
    f.write(entry())
    assert f.read() == entry()


def test_corrupt_cache_that_cannot_be_moved_aside_is_a_clear_error(tmp_path: Path) -> None:
    """Setting aside fails (the name is too long for a suffix): a CacheError naming the fix."""
    f = store.TokenFile(tmp_path / ("t" * 240 + ".json"))
    f.path.write_bytes(b"{ half")
    f.path.chmod(0o600)
    with pytest.raises(CacheError, match="moving it aside failed") as info:
        f.read()
    assert "Delete" in info.value.hint and f.path.read_bytes() == b"{ half"


def test_quickstart_token_json_is_accepted(tmp_path: Path) -> None:
    """A token.json written by google-auth's to_json (no "type") is a usable cache."""
    data = entry()
    del data["type"]
    data["token_uri"] = "https://oauth2.googleapis.com/token"
    f = store.TokenFile(tmp_path / "token.json")
    f.path.write_text(json.dumps(data))
    f.path.chmod(0o600)
    assert f.read() == data


_WRITER = """
import sys
from gemini_oauth import _store as store
f = store.TokenFile(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    i += 1
    f.write({"client_id": "c", "client_secret": "s", "refresh_token": "r" * (i % 50000), "n": i})
"""


def test_kill_9_during_writes_never_tears_the_file(tmp_path: Path) -> None:
    f = store.TokenFile(tmp_path / "token.json")
    f.write({"client_id": "c", "client_secret": "s", "refresh_token": "r", "n": 0})
    for _round in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(f.path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        seen = set()
        start = time.monotonic()
        while len(seen) < 20 and time.monotonic() - start < 10.0:  # reads across 20 writes
            data = f.read()
            assert data is not None, "a reader saw a torn or missing file"
            seen.add(data["n"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        final = json.loads(f.path.read_text())
        assert final["refresh_token"] == "r" * (final["n"] % 50000)
        assert len(seen) > 1
    assert not list(tmp_path.glob("*.corrupt-*"))


def _peak_inside(lock: Callable[[], contextlib.AbstractContextManager[object]]) -> int:
    """How many of 16 threads were inside ``lock()`` at once. Each stays inside until all 16
    have come to take it (10 s at most), so a lock that let two in would show it, untimed."""
    inside = peak = arrived = 0
    changed = threading.Condition()

    def work() -> None:
        nonlocal inside, peak, arrived
        with changed:
            arrived += 1
            changed.notify_all()
        with lock():
            with changed:
                inside += 1
                peak = max(peak, inside)
                changed.wait_for(lambda: arrived == 16, timeout=10)
            with lock():  # reentrant in the same thread
                pass
            with changed:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert inside == 0
    return peak


def test_lock_serializes_threads(tmp_path: Path) -> None:
    assert _peak_inside(contextlib.nullcontext) > 1  # without a lock, the overlap is seen
    f = store.profile_file("default", tmp_path)
    assert _peak_inside(f.lock) == 1


def test_lock_excludes_other_processes(tmp_path: Path) -> None:
    f = store.profile_file("default", tmp_path)
    log = tmp_path / "log"
    code = (
        "import pathlib, sys\n"
        "from gemini_oauth import _store as store\n"
        "f = store.profile_file('default', sys.argv[1])\n"
        "with f.lock():\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.readline()\n"  # held until the test says so
        "    pathlib.Path(sys.argv[2]).write_text('child done')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path), str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    with pytest.raises(CacheError, match="Timed out"), f.lock(timeout=0.05):
        pass
    proc.stdin.write("go\n")
    proc.stdin.close()
    with f.lock(timeout=30):  # waits for the child, which writes the log before it lets go
        assert log.read_text() == "child done"
    assert proc.wait(timeout=10) == 0


def test_a_forked_child_holds_none_of_its_parents_locks(tmp_path: Path) -> None:
    """A child forked inside ``lock()`` (same thread id) must queue like any other process,
    and its leaving the parent's ``with`` leaves the parent holding the file lock."""
    import fcntl

    f = store.profile_file("default", tmp_path)
    pid, code = -1, 0
    try:
        with f.lock():
            pid = os.fork()
            if pid == 0:
                try:
                    with f.lock(timeout=0):
                        code = 1  # it passed for the holder of its parent's lock
                except CacheError:
                    pass
            else:
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0
                with f.lock_path.open("rb") as probe, pytest.raises(BlockingIOError):
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # still the parent's
    except BaseException:
        code = code or 2
        if pid != 0:
            raise
    finally:
        if pid == 0:
            os._exit(code)


def test_google_application_credentials_loads_a_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.auth
    from google.oauth2.credentials import Credentials

    f = store.profile_file("default", tmp_path)
    f.write(entry(quota_project_id="my-quota", account="", universe_domain="googleapis.com"))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(f.path))
    monkeypatch.delenv("GOOGLE_CLOUD_QUOTA_PROJECT", raising=False)
    creds, _project = google.auth.default()
    assert isinstance(creds, Credentials)
    assert creds.refresh_token == "store-test-refresh"
    assert creds.client_id == "cid.apps.googleusercontent.com"
    assert creds.quota_project_id == "my-quota"


def test_write_text_is_exact_and_private(tmp_path: Path) -> None:
    f = store.TokenFile(tmp_path / "sub" / "adc.json")
    f.write_text('{\r\n  "a": 1\r\n}')
    assert f.path.read_bytes() == b'{\r\n  "a": 1\r\n}' and mode(f.path) == 0o600


# ---------------------------------------------------------------- trust by ownership

NOBODY = 65534
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a file away needs root"
)


def test_a_shared_home_keeps_its_modes_and_sticky_bit(tmp_path: Path) -> None:
    """Finding 2: a 1777 home named by the user is used as it is; only our folder is private."""
    home = tmp_path / "shared"
    home.mkdir()
    home.chmod(0o1777)
    f = store.profile_file("default", home)
    f.write(entry())
    assert f.read() == entry()
    assert mode(home) == 0o1777 and mode(home / "profiles") == 0o700


def test_a_home_others_may_rename_in_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "open"
    home.mkdir()
    home.chmod(0o777)
    with pytest.raises(CacheError, match="may be written by others and has no sticky bit") as info:
        store.profile_file("default", home).write(entry())
    assert f"chmod go-w {home}" in info.value.hint and "GEMINI_OAUTH_HOME" in info.value.hint
    assert mode(home) == 0o777 and not (home / "profiles").exists()


def test_a_sticky_bit_of_our_own_folder_is_kept_while_repairing(tmp_path: Path) -> None:
    f = store.profile_file("default", tmp_path / "home")
    f.write(entry())
    f.path.parent.chmod(0o1755)
    assert f.read() == entry()
    assert mode(f.path.parent) == 0o1700


@needs_root
@pytest.mark.parametrize("whose", ["home", "profiles", "file"])
def test_another_users_folder_or_file_is_refused_not_adopted(tmp_path: Path, whose: str) -> None:
    """Finding 2: root adopted (and chmod-ed) a cache planted by another user."""
    home = tmp_path / "home"
    f = store.profile_file("default", home)
    f.write(entry())
    f.path.chmod(0o644)
    target = {"home": home, "profiles": home / "profiles", "file": f.path}[whose]
    os.chown(target, NOBODY, -1)
    before = mode(target)
    with pytest.raises(CacheError, match=rf"belongs to another user \(uid {NOBODY}\)") as info:
        f.read()
    assert str(target) in info.value.message
    assert mode(target) == before and mode(f.path) == 0o644  # nothing was repaired
    if whose != "file":
        with pytest.raises(CacheError):
            f.write(entry())
        return
    f.write(entry())  # in our own folder, a new file of ours replaces it
    assert f.path.stat().st_uid == os.geteuid() and mode(f.path) == 0o600


def test_a_huge_cache_is_set_aside_without_being_read_whole(tmp_path: Path) -> None:
    """Finding 12: a 300 MB file took 612 MB of memory. A sparse 256 MiB file costs no disk."""
    import tracemalloc

    f = store.profile_file("default", tmp_path / "home")
    f.write(entry())
    with open(f.path, "r+b") as stream:
        stream.truncate(256 << 20)
    tracemalloc.start()
    try:
        assert f.read() is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak
    assert not f.path.exists() and list(f.path.parent.glob("default.json.corrupt-*"))


def test_a_deeply_nested_cache_is_set_aside(tmp_path: Path) -> None:
    """Finding 10: RecursionError became 'This is a bug'."""
    f = store.profile_file("default", tmp_path / "home")
    f.write_text("[" * 100_000)
    assert f.read() is None and list(f.path.parent.glob("default.json.corrupt-*"))


def test_a_dead_grant_leaves_its_setup(tmp_path: Path) -> None:
    """without_tokens: the record minus every token, with why and since; still a valid record
    (the shape any backend stores), not one that looks logged in."""
    file = store.TokenFile(tmp_path / "p.json")
    live = {
        "type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r",
        "token": "t", "expiry": "2030-01-01T00:00:00Z", "refresh_token_issued": "x",
        "rapt_token": "p", "scopes": ["openid"], "quota_project_id": "q", "account": "a@b",
        "client_secret_file": "/x/client_secret.json",
    }  # fmt: skip
    dead = store.without_tokens(live, "it expired.", "2030-01-02T00:00:00Z")
    assert not set(store.TOKEN_FIELDS) & set(dead) and not store.has_grant(dead)
    assert dead["login_needed"] == "it expired." and dead["quota_project_id"] == "q"
    file.write(dead)
    assert file.read() == dead  # valid: not set aside as corrupt
    assert store.is_cache_data(live) and store.has_grant(live)
    assert not store.is_cache_data({k: v for k, v in live.items() if k != "refresh_token"})
