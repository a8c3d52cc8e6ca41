"""`gemini-oauth login` as a real process, with BROWSER set to the headless user agent."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gemini_oauth.emulator import Emulator

SCRIPT = str(Path(sys.executable).parent / "gemini-oauth")


def _run(
    args: list[str], home: Path, *, browser: str = "", cwd: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_OAUTH_", "SSH_"))}
    env.update(GEMINI_OAUTH_HOME=str(home), BROWSER=browser)
    if not browser:
        env.pop("BROWSER")
    return subprocess.run(
        [SCRIPT, "login", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ua(*flags: str) -> str:
    return " ".join([sys.executable, "-m", "gemini_oauth._useragent", *flags, "%s"])


def test_login_end_to_end(emulator: Emulator, client_secret_file: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _run(
        ["--client-secret", str(client_secret_file), "--quota-project", "qp-project-1", "--json"],
        home,
        browser=_ua(),
    )
    assert done.returncode == 0, done.stderr
    profile = home / "profiles" / "default.json"
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert stat.S_IMODE(profile.parent.stat().st_mode) == 0o700
    data = json.loads(profile.read_text())
    assert data["type"] == "authorized_user" and data["quota_project_id"] == "qp-project-1"
    assert data["account"] == emulator.user_email
    assert f"Logged in as {emulator.user_email}" in done.stderr
    assert "generative-language.retriever" in done.stderr and "(mode 0600)" in done.stderr
    assert json.loads(done.stdout)["cache_path"] == str(profile)
    for secret in (data["token"], data["refresh_token"], data["client_secret"], "4/emu."):
        assert secret not in done.stdout + done.stderr  # "4/emu." starts every emulator code
    assert emulator.control.counters()["token.authorization_code"] == 1


def test_login_profile_and_scopes(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    args = ["--scopes", "retriever", "--profile", "work"]
    done = _run(args, home, browser=_ua(), cwd=client_secret_file.parent)
    assert done.returncode == 0, done.stderr
    data = json.loads((home / "profiles" / "work.json").read_text())
    assert data["scopes"] == ["https://www.googleapis.com/auth/generative-language.retriever"]
    assert "account not shared" in done.stderr


def test_login_denied_keeps_existing_credentials(client_secret_file: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = ["--client-secret", str(client_secret_file), "--quota-project", "qp-kept"]
    assert _run(args, home, browser=_ua()).returncode == 0
    profile = home / "profiles" / "default.json"
    before = profile.read_bytes()
    done = _run(["--client-secret", str(client_secret_file)], home, browser=_ua("--deny"))
    assert done.returncode == 3 and "denied" in done.stderr and "press Allow" in done.stderr
    assert profile.read_bytes() == before
    again = _run(["--client-secret", str(client_secret_file), "--json"], home, browser=_ua())
    assert again.returncode == 0 and json.loads(again.stdout)["quota_project"] == "qp-kept"
    assert "Quota project: qp-kept" in again.stderr


def test_login_denied_for_a_profile_names_it_in_the_hint(
    client_secret_file: Path, tmp_path: Path
) -> None:
    args = ["--client-secret", str(client_secret_file), "--profile", "work"]
    done = _run(args, tmp_path / "home", browser=_ua("--deny"))
    assert done.returncode == 3 and "Run 'gemini-oauth login --profile work' again" in done.stderr
    assert done.stderr.startswith("Using OAuth client ") and str(client_secret_file) in done.stderr


def test_login_timeout(client_secret_file: Path, tmp_path: Path) -> None:
    done = _run(
        ["--client-secret", str(client_secret_file), "--timeout", "0.5"],
        tmp_path / "home",
        browser="true %s",
    )
    assert done.returncode == 3 and "--timeout" in done.stderr
    assert not (tmp_path / "home" / "profiles" / "default.json").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"web": {"client_id": "x"}}', "Desktop app"),
        ("{broken", "not valid JSON"),
        (None, "No OAuth client file"),
    ],
)
def test_login_client_file_errors(tmp_path: Path, content: str | None, words: str) -> None:
    if content is not None:
        (tmp_path / "client_secret.json").write_text(content)
    done = _run([], tmp_path / "home", browser=_ua(), cwd=tmp_path)
    assert done.returncode == 2 and words in done.stderr and done.stderr.startswith("error: ")


def test_a_missing_client_file_names_where_it_was_looked_for_and_the_command(
    tmp_path: Path,
) -> None:
    """The cause first ($GEMINI_OAUTH_CLIENT_SECRET when it named the file), then the command,
    with the profile and a --client-secret to fill in: `login` and `adc login` alike."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_OAUTH_", "SSH_"))}
    env.update(GEMINI_OAUTH_HOME=str(tmp_path / "home"))
    path = tmp_path / "gone" / "client_secret.json"
    fill_in = "--client-secret PATH/TO/client_secret.json"
    for args, named, command in [
        (["login", "--profile", "work"], {"GEMINI_OAUTH_CLIENT_SECRET": str(path)},
         f"gemini-oauth login --profile work {fill_in}"),
        (["adc", "login"], {"GEMINI_OAUTH_CLIENT_SECRET": str(path)},
         f"gemini-oauth adc login {fill_in}"),
        (["login"], {}, f"gemini-oauth login {fill_in}"),
    ]:  # fmt: skip
        done = subprocess.run([SCRIPT, *args], env={**env, **named}, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2, done.stderr
        first, *_, last = done.stderr.rstrip().splitlines()
        if named:
            assert (
                first
                == f"error: $GEMINI_OAUTH_CLIENT_SECRET names {str(path)!r}, which does not exist."
            )
        else:
            assert first.startswith("error: No OAuth client file: no --client-secret")
        assert last.endswith(f"run: {command}"), done.stderr


def test_login_several_client_files(tmp_path: Path) -> None:
    for n in (1, 2):
        (tmp_path / f"client_secret_{n}.json").write_text("{}")
    done = _run([], tmp_path / "home", browser=_ua(), cwd=tmp_path)
    assert done.returncode == 2 and "client_secret_1.json, client_secret_2.json" in done.stderr


def test_login_headless_paste_bad_input(client_secret_file: Path, tmp_path: Path) -> None:
    done = _run(
        ["--client-secret", str(client_secret_file), "--no-browser"],
        tmp_path / "home",
        stdin="nonsense\nhttp://evil.example/x?state=a&code=b\n\n",
    )
    assert done.returncode == 3, done.stderr
    assert "Open this address in a browser on any machine" in done.stderr
    assert done.stderr.count("does not fit this login") == 3 and done.stdout == ""


def test_login_help() -> None:
    done = subprocess.run([SCRIPT, "login", "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    for words in ("--client-secret", "--no-browser", "--profile", "What happens", "0600"):
        assert words in done.stdout
    from gemini_oauth._cli.login import DEFAULT_SCOPES_TEXT
    from gemini_oauth.scopes import DEFAULT_SCOPES, parse_scopes

    assert DEFAULT_SCOPES_TEXT in done.stdout
    assert parse_scopes(DEFAULT_SCOPES_TEXT) == DEFAULT_SCOPES


def test_login_headless_paste_success(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    from gemini_oauth._useragent import approve

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("BROWSER", "DISPLAY")}
    env["GEMINI_OAUTH_HOME"] = str(home)
    proc = subprocess.Popen(
        [SCRIPT, "login", "--client-secret", str(client_secret_file), "--no-browser"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None and proc.stdin is not None
        url = ""
        for _ in range(20):
            line = proc.stderr.readline()
            if line.startswith("    http://"):
                url = line.strip()
                break
        assert url.startswith(emulator.base_url)
        _, err = proc.communicate(approve(url, follow_redirect=False) + "\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"Logged in as {emulator.user_email}" in err
    assert stat.S_IMODE((home / "profiles" / "default.json").stat().st_mode) == 0o600


def test_login_ctrl_c_releases_the_port(client_secret_file: Path, tmp_path: Path) -> None:
    import signal
    import socket

    env = dict(os.environ, GEMINI_OAUTH_HOME=str(tmp_path / "home"), BROWSER="true %s")
    args = ["login", "--client-secret", str(client_secret_file)]  # a free port, read from the URL
    proc = subprocess.Popen(
        [SCRIPT, *args], env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        said = [proc.stderr.readline()]
        while said[-1] and not said[-1].startswith("Waiting for the browser"):  # or the end
            said.append(proc.stderr.readline())
        found = re.search(r"redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A(\d+)%2F", "".join(said))
        assert found, said
        port = int(found[1])
        with socket.socket() as taken, pytest.raises(OSError):  # the login listens there
            taken.bind(("127.0.0.1", port))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    with socket.socket() as again:  # the listener let go of the port
        again.bind(("127.0.0.1", port))


def test_login_hint_picks_the_account(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    emulator.control.add_user("second@example.com")
    home = tmp_path / "home"
    args = ["--client-secret", str(client_secret_file), "--login-hint", "second@example.com"]
    done = _run([*args, "--profile", "second"], home, browser=_ua())
    assert done.returncode == 0, done.stderr
    assert json.loads((home / "profiles" / "second.json").read_text())["account"] == (
        "second@example.com"
    )
    assert "Logged in as second@example.com" in done.stderr


def test_login_with_a_stale_client_secret_says_what_to_do(
    emulator: Emulator, tmp_path: Path
) -> None:
    data = emulator.client_secret_json()
    data["installed"]["client_secret"] = "stale-secret-from-an-old-download"
    (tmp_path / "client_secret.json").write_text(json.dumps(data))
    done = _run([], tmp_path / "home", browser=_ua(), cwd=tmp_path)
    assert done.returncode == 2 and "invalid_client" in done.stderr, done.stderr  # the client file
    assert "download it again" in done.stderr and "stale-secret" not in done.stderr
    assert not (tmp_path / "home" / "profiles" / "default.json").exists()


# ---------------------------------------------------------------- login CSRF from another uid

_ATTACKER = r"""
import http.client, json, os, re, sys, time, urllib.parse

marker, account, deadline = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[3])


def argvs():
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    yield f.read().split(b"\0")
            except OSError:
                pass


def watch():
    while time.monotonic() < deadline:
        for argv in argvs():
            if any(marker.encode() in word for word in argv):
                for word in argv:
                    if word.startswith(b"http://"):
                        return word.decode()
        time.sleep(0.01)
    return None


def request(url, method="GET", body=None):
    p = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=10)
    headers = {"Host": p.netloc}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, p.path + ("?" + p.query if p.query else ""), body=body, headers=headers)
    answer = conn.getresponse()
    page = answer.read().decode("utf-8", "replace")
    conn.close()
    return answer.status, answer.getheader("Location"), page


report = {"seen": watch()}
url = report["seen"]
try:
    if url and "redirect_uri=" not in url:  # not the authorization URL: perhaps a launcher
        report["launcher"], url, _ = request(url)
    if url and "redirect_uri=" in url:  # consent with my own account, for the victim's login
        parts = urllib.parse.urlsplit(url)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "login_hint"]
        query.append(("login_hint", account))
        _, _, page = request(parts._replace(query=urllib.parse.urlencode(query)).geturl())
        consent = re.search(r'name="consent" value="([^"]+)"', page).group(1)
        scopes = re.findall(r'name="scope" value="([^"]+)"', page)
        form = [("consent", consent), *(("scope", s) for s in scopes), ("action", "allow")]
        approval = f"{parts.scheme}://{parts.netloc}/o/oauth2/approval"
        _, callback, _ = request(approval, "POST", urllib.parse.urlencode(form))
        report["delivered"], _, _ = request(callback)  # the code, to the victim's listener
except Exception as exc:
    report["error"] = type(exc).__name__
print(json.dumps(report))
"""

_VICTIMS_BROWSER = r"""
import os, signal, subprocess, sys

if sys.argv[1] != "--open":  # as webbrowser expects: return at once, the browser lives on
    subprocess.Popen([sys.executable, __file__, "--open", sys.argv[1]], start_new_session=True,
                     stdin=subprocess.DEVNULL)
    sys.exit(0)
signal.alarm(120)
with open(os.path.join(os.path.dirname(__file__), "go")) as go:  # the user is slow to click
    go.read()
from gemini_oauth._useragent import approve

approve(sys.argv[2])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/*/cmdline")
def test_another_user_reading_the_browsers_argv_cannot_finish_the_login(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path, other_user: tuple[int, str]
) -> None:
    """Finding 1: another uid watches /proc/*/cmdline for the browser's URL, consents with its own
    account and delivers the code to the victim's listener. Today the victim ends up logged in as
    the attacker; it must end up logged in as itself."""
    uid, python = other_user
    attacker = "attacker@example.com"
    emulator.control.add_user(attacker)
    browser = tmp_path / "browser.py"
    browser.write_text(_VICTIMS_BROWSER)
    go = tmp_path / "go"
    os.mkfifo(go)
    watcher = subprocess.Popen(
        [python, "-c", _ATTACKER, str(browser), attacker, "60"],
        user=uid,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_OAUTH_", "SSH_"))}
    env.update(GEMINI_OAUTH_HOME=str(home), BROWSER=f"{sys.executable} {browser} %s")
    victim = subprocess.Popen(
        [SCRIPT, "login", "--client-secret", str(client_secret_file)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        report = json.loads(watcher.communicate(timeout=90)[0])
        # Now the victim's own browser goes on: opening the fifo's other end releases it.
        threading.Thread(target=lambda: os.close(os.open(go, os.O_WRONLY)), daemon=True).start()
        _, err = victim.communicate(timeout=60)
    finally:
        for proc in (watcher, victim):
            if proc.poll() is None:
                proc.kill()
    assert victim.returncode == 0, err
    assert f"Logged in as {emulator.user_email}" in err and attacker not in err, err
    assert json.loads((home / "profiles" / "default.json").read_text())["account"] == (
        emulator.user_email
    )
    assert report["seen"], "the attacker never saw a URL in the browser's argv"
    assert "redirect_uri=" not in report["seen"]  # the authorization URL is in no argv
    assert "delivered" not in report, report
    assert f"another user's program (uid {uid}) was refused" in err
    assert emulator.control.counters()["token.authorization_code"] == 1


def test_login_as_another_account_than_the_profiles_is_refused_without_a_terminal(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    cached = {
        "type": "authorized_user", "client_id": emulator.client_id, "refresh_token": "1//old",
        "client_secret": emulator.client_secret, "account": "alice@example.com",
    }  # fmt: skip
    (home / "profiles").mkdir(parents=True, mode=0o700)
    (home / "profiles" / "work.json").write_text(json.dumps(cached))
    (home / "profiles" / "work.json").chmod(0o600)
    args = ["--client-secret", str(client_secret_file), "--profile", "work"]
    done = _run(args, home, browser=_ua())
    assert done.returncode == 3, done.stderr
    assert (
        "error: You signed in as tester@example.com, but profile work belongs to "
        "alice@example.com; with no terminal to ask on, nothing was saved and its grant was "
        "revoked." in done.stderr
    )
    assert "'gemini-oauth login --profile work --login-hint tester@example.com'" in done.stderr
    assert "'gemini-oauth logout --profile work' first" in done.stderr
    assert json.loads((home / "profiles" / "work.json").read_text()) == cached


def test_shell_characters_from_the_client_file_never_reach_a_shell_browser(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Finding 6: an auth_uri with $(...) and a BROWSER that goes through sh -c."""
    pwned = tmp_path / "pwned"
    shell_browser = "sh -c 'true %s; exit 1'"  # runs the URL through a shell, then "fails"
    probe = tmp_path / "probe"  # the same shell does run $(...) it is given
    subprocess.run(["sh", "-c", f"true http://x/$(touch$IFS{probe}); exit 1"], check=False)
    assert probe.exists()
    data = emulator.client_secret_json()
    data["installed"]["auth_uri"] += f"$(touch$IFS{pwned})"
    (tmp_path / "client_secret.json").write_text(json.dumps(data))
    done = _run([], tmp_path / "home", browser=shell_browser, cwd=tmp_path)
    assert not pwned.exists()
    assert done.returncode == 3 and "switching to the paste flow" in done.stderr, done.stderr
    assert "%24%28touch%24IFS" in done.stderr  # the printed address: rebuilt, encoded
    data["installed"]["auth_uri"] += "${IFS}"  # not even RFC 3986: refused outright
    (tmp_path / "client_secret.json").write_text(json.dumps(data))
    done = _run([], tmp_path / "home", browser=shell_browser, cwd=tmp_path)
    assert done.returncode == 2 and "no place in a URL ('{', '}')" in done.stderr
    assert not pwned.exists()


def test_login_checks_the_quota_project_before_the_browser(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    """Finding 4: login --quota-project stored a header injection and replayed it later."""
    home = tmp_path / "home"
    args = ["--client-secret", str(client_secret_file), "--quota-project", "p\r\nX-Injected: yes"]
    done = _run(args, home, browser=_ua())
    assert done.returncode == 2 and "is not a Google Cloud project id" in done.stderr
    assert not (home / "profiles" / "default.json").exists()
    assert emulator.control.counters().get("auth", 0) == 0  # no consent page was even asked for
