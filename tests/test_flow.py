"""run_login against the emulator over real HTTP: browser, paste, denial, scopes, token errors."""

from __future__ import annotations

import io
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gemini_oauth import _flow as flow
from gemini_oauth._authorize import authorization_url, parse_callback
from gemini_oauth._client_secrets import ClientSecret, client_from_dict
from gemini_oauth._flow import run_login
from gemini_oauth._pkce import make_state, make_verifier, s256_challenge
from gemini_oauth._token_endpoint import parse_token_response, token_request
from gemini_oauth._useragent import HeadlessUserAgent, approve
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import (
    AccountMismatchError,
    CallbackError,
    ConsentDeniedError,
    InvalidGrantError,
    LoginError,
    LoginTimeoutError,
    PortInUseError,
    ScopeNotGrantedError,
    TokenEndpointError,
)
from gemini_oauth.scopes import CLOUD_PLATFORM, DEFAULT_SCOPES, RETRIEVER, USERINFO_EMAIL


@pytest.fixture
def client(emulator: Emulator) -> ClientSecret:
    return client_from_dict(emulator.client_secret_json())


def _printed_url(out: io.StringIO) -> str:
    found = re.findall(r"^    (http://\S+)$", out.getvalue(), re.M)
    assert found, out.getvalue()
    return str(found[-1])


def _paster(out: io.StringIO, answers: list[str | None]) -> Callable[[str], str]:
    """Answers in turn; None means: the real address, from approving the printed URL."""

    def prompt(_: str) -> str:
        answer = answers.pop(0)
        return approve(_printed_url(out), follow_redirect=False) if answer is None else answer

    return prompt


def test_browser_login_end_to_end(
    emulator: Emulator,
    client: ClientSecret,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    verifiers: list[str] = []

    def recording_verifier() -> str:  # observes the real verifier, changes nothing
        verifiers.append(make_verifier())
        return verifiers[-1]

    monkeypatch.setattr(flow, "make_verifier", recording_verifier)
    agent, out = HeadlessUserAgent(), io.StringIO()
    before = time.time()
    result = run_login(client, DEFAULT_SCOPES, open_browser=agent, out=out, timeout=20)
    agent.join(5)
    assert agent.error is None and agent.result is not None
    assert result.access_token.startswith("ya29.emu.") and result.refresh_token
    assert before + 3500 < result.expires_at < time.time() + 3700
    assert set(result.granted_scopes) == set(DEFAULT_SCOPES)
    assert result.account == emulator.user_email and result.id_token
    assert emulator.control.counters()["token.authorization_code"] == 1
    assert _printed_url(out).startswith(client.auth_uri + "?")
    with pytest.raises(httpx.ConnectError):  # replayed callback: the listener is gone
        httpx.get(agent.result, timeout=5)
    code = parse_qs(urlsplit(agent.result).query)["code"][0]
    secrets_ = [code, verifiers[0], result.access_token, str(result.refresh_token)]
    secrets_ += [client.client_secret, str(result.id_token)]
    captured = capfd.readouterr()
    for text in (out.getvalue(), caplog.text, captured.out, captured.err, repr(result)):
        for secret in secrets_:
            assert secret not in text


def test_the_wait_for_the_browser_runs_in_waiting_and_names_the_agent(
    client: ClientSecret,
) -> None:
    """A command line's spinner wraps exactly the wait; the headless agent is named, not "your
    browser"; without ``waiting`` the message is said once with the time allowed."""
    import contextlib

    seen: list[tuple[str, float, bool]] = []

    @contextlib.contextmanager
    def waiting(message: str, timeout: float) -> Iterator[None]:
        seen.append((message, timeout, False))
        yield
        seen.append((message, timeout, True))

    out = io.StringIO()
    agent = HeadlessUserAgent()
    result = run_login(
        client, DEFAULT_SCOPES, open_browser=agent, out=out, timeout=20, waiting=waiting
    )
    said = out.getvalue()
    assert result.refresh_token and seen == [
        ("Waiting for a built-in headless user agent", 20, False),
        ("Waiting for a built-in headless user agent", 20, True),
    ]
    assert said.startswith("A built-in headless user agent opens the sign-in page")
    assert "your browser" not in said and "Waiting" not in said
    assert "Authorization received" in said

    out = io.StringIO()
    run_login(client, DEFAULT_SCOPES, open_browser=lambda url: HeadlessUserAgent()(url), out=out,
              timeout=20)  # fmt: skip
    said = out.getvalue()
    assert said.startswith("Opening the sign-in page in your browser.")
    assert "Waiting for the browser (up to 20 s; Ctrl-C to cancel)..." in said


def test_denial(emulator: Emulator, client: ClientSecret) -> None:
    with pytest.raises(ConsentDeniedError) as err:
        run_login(
            client, DEFAULT_SCOPES, open_browser=HeadlessUserAgent(action="deny"), out=io.StringIO()
        )
    assert err.value.exit_code == 3
    assert emulator.control.counters().get("token.authorization_code", 0) == 0


def test_a_failing_headless_user_agent_ends_the_wait(emulator: Emulator) -> None:
    """The consent page is an error page (unknown client): the login ends now, not at timeout."""
    info = emulator.client_secret_json()
    info["installed"]["client_id"] = "999-unknown.apps.googleusercontent.com"
    agent = HeadlessUserAgent()
    with pytest.raises(LoginError, match="server_error") as err:
        run_login(client_from_dict(info), DEFAULT_SCOPES, open_browser=agent, out=io.StringIO(),
                  timeout=60)  # fmt: skip
    assert not isinstance(err.value, LoginTimeoutError)  # ended by the agent's report
    assert isinstance(agent.error, LoginError)
    assert emulator.control.counters().get("token.authorization_code", 0) == 0


def test_required_scope_unticked(client: ClientSecret) -> None:
    agent = HeadlessUserAgent(untick=["retriever"])
    with pytest.raises(ScopeNotGrantedError) as err:
        run_login(client, DEFAULT_SCOPES, open_browser=agent, out=io.StringIO(), timeout=20)
    assert err.value.missing == [RETRIEVER]
    assert "generative-language.retriever" in err.value.message and "ya29" not in str(err.value)


def test_optional_scope_unticked_warns(client: ClientSecret) -> None:
    out = io.StringIO()
    agent = HeadlessUserAgent(untick=[USERINFO_EMAIL])
    result = run_login(client, DEFAULT_SCOPES, open_browser=agent, out=out, timeout=20)
    assert USERINFO_EMAIL not in result.granted_scopes
    assert "warning" in out.getvalue() and "userinfo.email" in out.getvalue()


def test_profile_granted_as_userinfo_profile_is_no_warning(client: ClientSecret) -> None:
    """Google answers a granted 'profile' as .../auth/userinfo.profile: nothing is missing."""
    out = io.StringIO()
    scopes = [*DEFAULT_SCOPES, "profile"]
    result = run_login(client, scopes, open_browser=HeadlessUserAgent(), out=out, timeout=20)
    assert "https://www.googleapis.com/auth/userinfo.profile" in result.granted_scopes
    assert "warning" not in out.getvalue()


def test_explicit_required_scopes(client: ClientSecret) -> None:
    agent = HeadlessUserAgent(untick=[CLOUD_PLATFORM])
    result = run_login(
        client,
        [CLOUD_PLATFORM, RETRIEVER],
        required_scopes=[RETRIEVER],
        open_browser=agent,
        out=io.StringIO(),
        timeout=20,
    )
    assert result.granted_scopes == (RETRIEVER,)


def test_timeout(client: ClientSecret) -> None:
    """The login's timeout is the listener's (whose timing tests/test_loopback.py covers)."""
    with pytest.raises(LoginTimeoutError, match=r"within 0\.3 seconds"):
        run_login(
            client, DEFAULT_SCOPES, open_browser=lambda url: True, timeout=0.3, out=io.StringIO()
        )


def test_port_taken_fails_before_the_browser(client: ClientSecret) -> None:
    opened: list[str] = []

    def opener(url: str) -> bool:
        opened.append(url)
        return True

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(PortInUseError):
            run_login(
                client,
                DEFAULT_SCOPES,
                port=taken.getsockname()[1],
                open_browser=opener,
                out=io.StringIO(),
            )
    assert opened == []


def test_headless_paste(emulator: Emulator, client: ClientSecret) -> None:
    out = io.StringIO()
    result = run_login(
        client, DEFAULT_SCOPES, no_browser=True, out=out, prompt_input=_paster(out, [None])
    )
    assert result.account == emulator.user_email
    text = out.getvalue()
    assert "copy the whole address" in text and _printed_url(out).startswith(client.auth_uri)
    redirect = parse_qs(urlsplit(_printed_url(out)).query)["redirect_uri"][0]
    assert redirect.startswith("http://127.0.0.1:") and "/oauth2callback/" in redirect


def test_paste_reserves_the_port(client: ClientSecret) -> None:
    """While the user pastes, the redirect port is bound but not listening: nobody else gets it."""
    out, checks = io.StringIO(), list[int]()

    def prompt(_: str) -> str:
        url = _printed_url(out)
        port = urlsplit(parse_qs(urlsplit(url).query)["redirect_uri"][0]).port or 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        with socket.socket() as thief, pytest.raises(OSError):
            thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            thief.bind(("127.0.0.1", port))
        checks.append(port)
        return approve(url, follow_redirect=False)

    assert run_login(client, DEFAULT_SCOPES, no_browser=True, out=out, prompt_input=prompt)
    assert len(checks) == 1


def test_bad_paste_then_good(client: ClientSecret) -> None:
    out = io.StringIO()
    wrong = "http://127.0.0.1:1/oauth2callback/x?state=nope&code=stolen"
    result = run_login(
        client,
        DEFAULT_SCOPES,
        no_browser=True,
        out=out,
        prompt_input=_paster(out, ["hello", wrong, None]),
    )
    assert result.access_token
    assert out.getvalue().count("does not fit this login") == 2 and "stolen" not in out.getvalue()


def test_paste_gives_up_and_handles_eof(client: ClientSecret) -> None:
    out = io.StringIO()
    with pytest.raises(CallbackError, match="3 attempts"):
        run_login(client, DEFAULT_SCOPES, no_browser=True, out=out, prompt_input=lambda p: "x")

    def eof(_: str) -> str:
        raise EOFError

    with pytest.raises(LoginError, match="end of input"):
        run_login(client, DEFAULT_SCOPES, no_browser=True, out=out, prompt_input=eof)


def test_paste_of_a_denial(client: ClientSecret) -> None:
    out = io.StringIO()

    def prompt(_: str) -> str:
        return approve(_printed_url(out), action="deny", follow_redirect=False)

    with pytest.raises(ConsentDeniedError):
        run_login(client, DEFAULT_SCOPES, no_browser=True, out=out, prompt_input=prompt)


@pytest.mark.parametrize("opener_fails", ["false", "raises"])
def test_browser_failure_falls_back_to_paste(client: ClientSecret, opener_fails: str) -> None:
    out = io.StringIO()

    def opener(url: str) -> bool:
        if opener_fails == "raises":
            raise OSError("no browser")
        return False

    result = run_login(
        client, DEFAULT_SCOPES, open_browser=opener, out=out, prompt_input=_paster(out, [None])
    )
    assert result.access_token and "switching to the paste flow" in out.getvalue()
    printed = re.findall(r"^    (http://\S+)$", out.getvalue(), re.M)
    assert len(printed) == 1, out.getvalue()  # the address to use, never a dead one before it
    assert "If it does not open" not in out.getvalue()


def test_auto_headless_without_display(
    client: ClientSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 1 10.0.0.2 22")
    assert flow.browser_usable() is False
    monkeypatch.setenv("BROWSER", "true %s")
    assert flow.browser_usable() is True
    monkeypatch.delenv("BROWSER")
    out = io.StringIO()
    result = run_login(client, DEFAULT_SCOPES, out=out, prompt_input=_paster(out, [None]))
    assert result.access_token and "Open this address in a browser on any machine" in out.getvalue()


def _code_for(client: ClientSecret, verifier: str) -> tuple[str, str]:
    """A real code from the emulator for a challenge, via the public pure functions."""
    state, redirect = make_state(), "http://127.0.0.1:9/oauth2callback/unit"
    url = authorization_url(client, redirect, DEFAULT_SCOPES, state, s256_challenge(verifier))
    location = approve(url, follow_redirect=False)
    return parse_callback(location, state, "/oauth2callback/unit"), redirect


def _exchange(client: ClientSecret, code: str, verifier: str, redirect: str) -> None:
    answer = httpx.post(client.token_uri, data=token_request(client, code, verifier, redirect))
    parse_token_response(answer.status_code, answer.content)


def test_code_replay_and_wrong_verifier(emulator: Emulator, client: ClientSecret) -> None:
    verifier = make_verifier()
    code, redirect = _code_for(client, verifier)
    _exchange(client, code, verifier, redirect)
    with pytest.raises(InvalidGrantError) as err:
        _exchange(client, code, verifier, redirect)
    assert err.value.error == "invalid_grant" and code not in str(err.value)
    code2, _ = _code_for(client, verifier)
    with pytest.raises(InvalidGrantError, match="code verifier") as err2:
        _exchange(client, code2, make_verifier(), redirect)
    assert verifier not in str(err2.value) and code2 not in str(err2.value)


def test_token_response_missing_fields(emulator: Emulator, client: ClientSecret) -> None:
    emulator.control.add_fault("/token", 200, body={"token_type": "Bearer", "scope": "openid"})
    with pytest.raises(TokenEndpointError, match="no access_token"):
        run_login(
            client, DEFAULT_SCOPES, open_browser=HeadlessUserAgent(), out=io.StringIO(), timeout=20
        )


def test_token_response_unknown_fields(emulator: Emulator, client: ClientSecret) -> None:
    body = {
        "access_token": "unit-access",
        "expires_in": "1200",
        "refresh_token": "unit-refresh",
        "scope": " ".join(DEFAULT_SCOPES),
        "token_type": "Bearer",
        "brand_new_field": [1, 2],
    }
    emulator.control.add_fault("/token", 200, body=body)
    before = time.time()
    result = run_login(
        client, DEFAULT_SCOPES, open_browser=HeadlessUserAgent(), out=io.StringIO(), timeout=20
    )
    after = time.time()
    assert (result.access_token, result.refresh_token, result.account) == (
        "unit-access",
        "unit-refresh",
        "",
    )
    assert before + 1200 <= result.expires_at <= after + 1200  # issued at, plus expires_in


def test_token_endpoint_unavailable(emulator: Emulator, client: ClientSecret) -> None:
    emulator.control.add_fault("/token", 503)
    with pytest.raises(TokenEndpointError, match="temporarily_unavailable"):
        run_login(
            client, DEFAULT_SCOPES, open_browser=HeadlessUserAgent(), out=io.StringIO(), timeout=20
        )
    emulator.control.add_fault("/token", drop=True)
    with pytest.raises(TokenEndpointError, match="Could not reach"):
        run_login(
            client, DEFAULT_SCOPES, open_browser=HeadlessUserAgent(), out=io.StringIO(), timeout=20
        )


def test_no_scopes(client: ClientSecret) -> None:
    with pytest.raises(LoginError, match="No scopes"):
        run_login(client, [], open_browser=HeadlessUserAgent(), out=io.StringIO())


def test_uses_the_given_http_client(client: ClientSecret) -> None:
    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]}) as http:
        result = run_login(
            client, DEFAULT_SCOPES, open_browser=HeadlessUserAgent(), out=io.StringIO(), http=http
        )
        assert not http.is_closed
    assert result.access_token and seen == [client.token_uri]


# ---------------------------------------------------------------- whose account it is


class SignsInAs:
    """A browser whose user picks ``email`` on the consent page, whatever the login hinted."""

    def __init__(self, email: str) -> None:
        self.email = email
        self.thread: threading.Thread | None = None

    def __call__(self, url: str) -> bool:
        self.thread = threading.Thread(target=self._approve, args=(url,), daemon=True)
        self.thread.start()
        return True

    def _approve(self, url: str) -> None:  # in a thread: the listener serves once we return
        from urllib.parse import parse_qsl, urlencode

        from gemini_oauth._useragent import resolve_launcher

        real = urlsplit(resolve_launcher(url))
        query = [(k, v) for k, v in parse_qsl(real.query) if k != "login_hint"]
        approve(real._replace(query=urlencode([*query, ("login_hint", self.email)])).geturl())


def test_a_login_hint_must_be_the_account_signed_in(
    emulator: Emulator, client: ClientSecret
) -> None:
    """Finding 1: --login-hint A, but the consent was given as B: refused, B's grant revoked."""
    emulator.control.add_user("bob@example.com")
    out = io.StringIO()
    with pytest.raises(AccountMismatchError) as info:
        run_login(client, DEFAULT_SCOPES, login_hint=emulator.user_email, out=out,
                  open_browser=SignsInAs("bob@example.com"), timeout=20)  # fmt: skip
    error = info.value
    assert (error.expected, error.actual) == (emulator.user_email, "bob@example.com")
    assert "You signed in as bob@example.com, but --login-hint asked for" in error.message
    assert "its grant was revoked" in error.message and error.exit_code == 3
    assert f"--login-hint {emulator.user_email}" in error.hint
    counters = emulator.control.counters()
    assert counters["token.authorization_code"] == 1 and counters["revoke"] == 1
    assert emulator.control.state()["live_grants"] == 0  # bob's new grant is gone


def test_a_login_hint_matches_in_any_letter_case(emulator: Emulator, client: ClientSecret) -> None:
    result = run_login(client, DEFAULT_SCOPES, login_hint=emulator.user_email.upper(),
                       open_browser=SignsInAs(emulator.user_email), out=io.StringIO(),
                       timeout=20)  # fmt: skip
    assert result.account == emulator.user_email


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("Ann@Example.com", "ann@example.com", True),
        ("first.last@gmail.com", "firstlast@googlemail.com", True),
        ("first.last@example.com", "firstlast@example.com", False),
        ("ann@example.com", "", False),
    ],
)
def test_same_account(one: str, other: str, same: bool) -> None:
    assert flow.same_account(one, other) is same


def test_an_absurd_expires_in_at_login_is_cut_to_a_day(
    emulator: Emulator, client: ClientSecret
) -> None:
    """Finding 10: expires_in 1e20 overflowed after the code was consumed: the login was lost."""
    answer = {"access_token": "ya29.absurd", "refresh_token": "1//absurd", "token_type": "Bearer",
              "expires_in": 10**20, "scope": " ".join(DEFAULT_SCOPES)}  # fmt: skip
    emulator.control.add_fault("/token", 200, body=answer)
    before = time.time()
    result = run_login(client, DEFAULT_SCOPES, open_browser=HeadlessUserAgent(),
                       out=io.StringIO(), timeout=20)  # fmt: skip
    assert result.access_token == "ya29.absurd" and result.expires_at <= before + 86400 + 60


@pytest.mark.parametrize(
    ("pasted", "meant"),
    [
        ('"http://127.0.0.1:5/cb?x=1"\n', "http://127.0.0.1:5/cb?x=1"),
        ("  '<http://127.0.0.1:5/cb>'  ", "http://127.0.0.1:5/cb"),
        ("\u201chttp://127.0.0.1:5/cb\u201d", "http://127.0.0.1:5/cb"),
        ('"unbalanced', '"unbalanced'),
    ],
)
def test_unwrap_paste(pasted: str, meant: str) -> None:
    from gemini_oauth._flow import unwrap_paste

    assert unwrap_paste(pasted) == meant


def test_what_a_bad_paste_is_told() -> None:
    from gemini_oauth._flow import _paste_problem

    refused = CallbackError("the checker's own words")
    state = "s" * 43
    assert "code alone" in _paste_problem("4/0AbCdEf", state, refused)
    assert "cut off" in _paste_problem("http://127.0.0.1:5/cb", state, refused)
    assert "cut off" in _paste_problem(f"http://127.0.0.1:5/cb?state={state[:9]}", state, refused)
    assert "no code= part" in _paste_problem(f"http://127.0.0.1:5/cb?state={state}", state, refused)
    other = "http://127.0.0.1:5/cb?state=other&code=x"
    assert _paste_problem(other, state, refused) == "the checker's own words"
