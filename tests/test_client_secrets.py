"""Finding and validating the Desktop client file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from gemini_oauth._client_secrets import find_client_secret, load_client_secret
from gemini_oauth.errors import ClientSecretError

SECRET = "unit-test-client-secret-value"


def installed(**over: Any) -> dict[str, Any]:
    body = {
        "client_id": "123-abc.apps.googleusercontent.com",
        "project_id": "proj",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "client_secret": SECRET,
        "redirect_uris": ["http://localhost"],
    }
    body.update(over)
    return {"installed": {k: v for k, v in body.items() if v is not None}}


def write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_loads_installed_client(tmp_path: Path) -> None:
    client = load_client_secret(write(tmp_path / "c.json", installed()))
    assert client.client_id.startswith("123-")
    assert client.token_uri == "https://oauth2.googleapis.com/token"
    assert client.revoke_uri == "https://oauth2.googleapis.com/revoke"
    assert client.project_id == "proj" and client.redirect_uris == ("http://localhost",)
    assert SECRET not in repr(client)


def test_revoke_uri_from_file_wins(tmp_path: Path) -> None:
    data = installed(revoke_uri="https://example.com/rv")
    assert (
        load_client_secret(write(tmp_path / "c.json", data)).revoke_uri
        == data["installed"]["revoke_uri"]
    )


def test_emulator_client_file(client_secret_file: Path) -> None:
    client = load_client_secret(client_secret_file)
    assert client.token_uri.startswith("http://127.0.0.1:")
    assert client.revoke_uri == client.token_uri.rsplit("/", 1)[0] + "/revoke"


def test_web_client_refused_with_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", {"web": installed()["installed"]})
    with pytest.raises(ClientSecretError) as err:
        load_client_secret(path)
    assert "Web application" in str(err.value) and "Desktop app" in str(err.value)
    assert SECRET not in str(err.value) and err.value.exit_code == 2


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not a JSON object"),
        ({"other": {}}, "no 'installed'"),
        (installed(client_secret=None), "client_secret"),
        (installed(token_uri=None, auth_uri=None), "auth_uri, token_uri"),
        (installed(client_id=5), "not a string"),
        (installed(token_uri="http://oauth2.googleapis.com/token"), "https"),
        (installed(auth_uri="ftp://x/auth"), "https"),
        (installed(token_uri="https://127.0.0.1:80@evil.example/token"), "https"),
        (installed(redirect_uris="http://localhost"), "redirect_uris"),
    ],
)
def test_bad_files(tmp_path: Path, data: Any, words: str) -> None:
    with pytest.raises(ClientSecretError) as err:
        load_client_secret(write(tmp_path / "c.json", data))
    assert words in err.value.message
    assert SECRET not in str(err.value) and err.value.hint


def test_loopback_http_is_allowed_for_the_emulator(tmp_path: Path) -> None:
    data = installed(token_uri="http://127.0.0.1:9/token", auth_uri="http://[::1]:9/auth")
    assert load_client_secret(write(tmp_path / "c.json", data)).auth_uri == "http://[::1]:9/auth"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ClientSecretError, match="does not exist"):
        load_client_secret(tmp_path / "nope.json")
    with pytest.raises(ClientSecretError, match="No OAuth client file"):
        find_client_secret(None, cwd=tmp_path)


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = write(tmp_path / "client_secret_111.apps.googleusercontent.com.json", installed())
    assert find_client_secret(None, cwd=tmp_path) == one
    plain = write(tmp_path / "client_secret.json", installed())
    assert find_client_secret(None, cwd=tmp_path) == plain
    other = write(tmp_path / "elsewhere.json", installed())
    monkeypatch.setenv("GEMINI_OAUTH_CLIENT_SECRET", str(other))
    assert find_client_secret(None, cwd=tmp_path) == other
    assert find_client_secret(one, cwd=tmp_path) == one


def test_several_downloads_are_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "client_secret_1.json", installed())
    write(tmp_path / "client_secret_2.json", installed())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ClientSecretError) as err:
        load_client_secret()
    assert "client_secret_1.json, client_secret_2.json" in err.value.message
    assert "--client-secret" in err.value.hint


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", installed())
    path.chmod(0)
    with pytest.raises(ClientSecretError, match="Cannot read"):
        load_client_secret(path)


# ---------------------------------------------------------------- endpoints from elsewhere


@pytest.mark.parametrize(
    ("auth_uri", "words"),
    [
        ("https://accounts.google.com/o/oauth2/auth$(touch${IFS}/tmp/x)", "'{', '}'"),
        ("https://accounts.google.com/o/oauth2/auth`id`", "'`'"),
        ("https://accounts.google.com/o/oauth2/auth\x1b]0;x\x07", "'\\x07', '\\x1b'"),
        ("https://accounts.google.com/o/oauth2/auth\\x", "'\\\\'"),
        ("https://accounts.google.com/o/oauth2/auth%zz", "percent-escape"),
        ("https://[::1/t", "not a valid [IPv6] literal"),
        ("https://user@accounts.google.com/auth", "userinfo"),
        ("https://accounts.google.com:99999/auth", "port"),
        ("https://accounts.google.com/auth#frag", "fragment"),
        ("https://a_b.example/auth", "host name"),
        ("http://example.com/auth", "clear text"),
    ],
)
def test_malformed_endpoints_are_refused(tmp_path: Path, auth_uri: str, words: str) -> None:
    """Finding 6 (and 10): only well-formed https (or loopback http) URLs of RFC 3986 characters."""
    with pytest.raises(ClientSecretError) as info:
        load_client_secret(write(tmp_path / "c.json", installed(auth_uri=auth_uri)))
    assert words in info.value.message and "auth_uri" in info.value.message


def test_shell_characters_are_rebuilt_percent_encoded(tmp_path: Path) -> None:
    """RFC 3986 allows $ ( ) ; in a path: the URL is rebuilt with them encoded."""
    uri = "https://accounts.google.com/o/oauth2/auth$(touch$IFS/tmp/x);id"
    client = load_client_secret(write(tmp_path / "c.json", installed(auth_uri=uri)))
    assert (
        client.auth_uri
        == "https://accounts.google.com/o/oauth2/auth%24%28touch%24IFS/tmp/x%29%3Bid"
    )


@pytest.mark.parametrize("key", ["client_id", "project_id"])
def test_ids_shown_on_the_terminal_are_plain(tmp_path: Path, key: str) -> None:
    with pytest.raises(ClientSecretError, match=f"installed.{key}' is not a plain id"):
        load_client_secret(write(tmp_path / "c.json", installed(**{key: "1-a\x1b[2Jb"})))


def test_a_deeply_nested_file_is_a_client_file_error(tmp_path: Path) -> None:
    """Finding 10: RecursionError became 'This is a bug'."""
    with pytest.raises(ClientSecretError, match="not valid JSON"):
        load_client_secret(write(tmp_path / "c.json", "[" * 100_000))


def test_endpoints_neither_googles_nor_local_are_warned_about(tmp_path: Path) -> None:
    """Finding 12."""
    from gemini_oauth._client_secrets import endpoint_warnings

    google = load_client_secret(write(tmp_path / "g.json", installed()))
    assert endpoint_warnings(google) == []
    other = installed(token_uri="https://oauth.example.net/token")
    client = load_client_secret(write(tmp_path / "o.json", other))
    assert endpoint_warnings(client) == [
        "the client file's token_uri is https://oauth.example.net/token, which is not Google's: "
        "your sign-in, authorization code and tokens go there.",
        "the client file's revoke_uri is https://oauth.example.net/revoke, which is not "
        "Google's: your sign-in, authorization code and tokens go there.",
    ]


def test_a_service_account_key_is_recognised(tmp_path: Path) -> None:
    key = tmp_path / "my key.json"
    email = "sa@p.iam.gserviceaccount.com"
    key.write_text(json.dumps({"type": "service_account", "client_email": email,
                               "private_key": "-----BEGIN PRIVATE KEY-----\nx\n"}))  # fmt: skip
    with pytest.raises(ClientSecretError) as info:
        load_client_secret(key)
    assert "is a service-account key (sa@p.iam.gserviceaccount.com)" in info.value.message
    assert f"GOOGLE_APPLICATION_CREDENTIALS='{key}' gemini-oauth models list --adc" in (
        info.value.hint
    )
    assert "PRIVATE KEY" not in str(info.value)
