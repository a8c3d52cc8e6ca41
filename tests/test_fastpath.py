"""The stdlib-only print-access-token path: prints only a token valid beyond the margin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemini_oauth import _store as store
from gemini_oauth._constants import REFRESH_MARGIN
from gemini_oauth._fastpath import flat_json, try_print_access_token

TOKEN = "fastpath-test-token"


def write(profile: str = "default", *, expires_in: float = 3600.0, **extra: Any) -> store.TokenFile:
    file = store.profile_file(profile)
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expires_in))
    file.write(
        {
            "type": "authorized_user",
            "client_id": "c",
            "client_secret": "s",
            "refresh_token": "r",
            "token": TOKEN,
            "expiry": expiry,
            **extra,
        }
    )
    return file


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[bool, str]:
    done = try_print_access_token(args)
    return done, capsys.readouterr().out


def test_prints_exactly_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    write()
    assert run([], capsys) == (True, TOKEN + "\n")


@pytest.mark.parametrize("args", [["--profile", "work"], ["--profile=work"]])
def test_profile_flag(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    write("work")
    assert run(args, capsys) == (True, TOKEN + "\n")
    assert run([], capsys) == (False, "")


def test_profile_from_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write("env-prof")
    monkeypatch.setenv("GEMINI_OAUTH_PROFILE", "env-prof")
    assert run([], capsys) == (True, TOKEN + "\n")


@pytest.mark.parametrize(
    "args",
    [
        ["--profile"],
        ["--profile", "../x"],
        ["--profile", ""],
        ["-h"],
        ["--profile", "a", "b"],
        ["--json", "--json", "--json"],
        ["--profile", "--json", "default"],  # click reads '--json' as the profile name here
        ["--json", "-v"],
    ],
)
def test_anything_else_goes_to_the_full_cli(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    write()
    assert run(args, capsys) == (False, "")


@pytest.mark.parametrize(
    "args", [["--json"], ["--json", "--profile", "work"], ["--profile=work", "--json"]]
)
def test_json_for_credential_helpers(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """The shape json.dumps(indent=2) gives, with the cache's expiry and the seconds left."""
    file = write("work" if len(args) > 1 else "default", expires_in=1800)
    expiry = file.read()["expiry"]  # type: ignore[index]
    done, out = run(args, capsys)
    assert done
    data = json.loads(out)
    assert list(data) == ["access_token", "expiry", "expires_in", "token_type"]
    assert data["access_token"] == TOKEN and data["token_type"] == "Bearer"
    assert data["expiry"] == expiry
    assert 1700 < data["expires_in"] <= 1800
    assert out == json.dumps(data, indent=2) + "\n"


def test_json_of_a_token_that_needs_escapes_is_left_to_the_full_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for odd in ('a"b', "a\\b", "tökén", "a\tb"):
        write(token=odd)
        assert run(["--json"], capsys) == (False, "")
        # Not a token a header can carry (RFC 6750 b64token): the full CLI refreshes it instead.
        assert run([], capsys) == (False, "")


def test_expiring_or_missing_tokens_are_left_to_the_refresher(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run([], capsys) == (False, "")
    write(expires_in=REFRESH_MARGIN - 5)
    assert run([], capsys) == (False, "")
    write(expires_in=REFRESH_MARGIN + 30)
    assert run([], capsys) == (True, TOKEN + "\n")
    write(token=None)
    assert run([], capsys) == (False, "")


def test_unsafe_or_corrupt_files_are_left_to_the_full_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = write()
    file.path.chmod(0o644)
    assert run([], capsys) == (False, "")
    file.path.chmod(0o600)
    file.path.parent.chmod(0o755)
    assert run([], capsys) == (False, "")
    file.path.parent.chmod(0o700)
    assert run([], capsys) == (True, TOKEN + "\n")
    target = tmp_path / "t.json"
    os.replace(file.path, target)
    file.path.symlink_to(target)
    assert run([], capsys) == (False, "")
    file.path.unlink()
    for content in ("", "{", "[]", json.dumps({"token": TOKEN, "expiry": "soon"})):
        file.path.write_text(content)
        file.path.chmod(0o600)
        assert run([], capsys) == (False, "")


def test_hot_path_imports_nothing_heavy() -> None:
    write()
    code = (
        "import sys\n"
        "from gemini_oauth._cli import main\n"
        "try:\n    main(['print-access-token'])\nexcept SystemExit as e:\n    code = e.code\n"
        "print(sorted(sys.modules), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout == TOKEN + "\n"
    loaded = set(eval(result.stderr))  # noqa: S307 - our own subprocess's repr of a list
    bare = subprocess.run(
        [sys.executable, "-c", "import sys; print(sorted(sys.modules))"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    added = loaded - set(eval(bare.stdout))  # noqa: S307 - what the hot path adds to startup
    heavy = {"httpx", "google", "click", "rich", "filelock", "platformdirs", "logging", "json"}
    assert not heavy & {name.split(".")[0] for name in added}, sorted(added)
    assert "gemini_oauth._store" not in loaded


_VALUES = st.one_of(
    st.text(),
    st.lists(st.text(), max_size=3),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(st.dictionaries(st.text(), _VALUES, max_size=6), st.sampled_from([None, 0, 2]))
def test_flat_json_parser_agrees_with_json(data: dict[str, Any], indent: int | None) -> None:
    text = json.dumps(data, indent=indent, ensure_ascii=bool(indent))
    assert flat_json(text) == json.loads(text)


@pytest.mark.parametrize(
    "bad",
    [
        '{"a": {"b": "c"}}',
        '{"a": "b"',
        '{"a" "b"}',
        '["a"]',
        '{"a": [1]}',
        '{"a": nul}',
        "{} x",
        "",
    ],
)
def test_flat_json_parser_rejects_other_shapes(bad: str) -> None:
    with pytest.raises((ValueError, IndexError)):
        flat_json(bad)


def test_bad_strings_are_value_errors_before_json_is_imported() -> None:
    """_json's C decoder raises SystemError for a bad string until json.decoder is imported."""
    code = (
        "import sys\n"
        "from gemini_oauth._fastpath import flat_json\n"
        "assert 'json.decoder' not in sys.modules\n"
        "for text in sys.argv[1:]:\n"
        "    try:\n        flat_json(text)\n    except ValueError:\n        continue\n"
        "    raise SystemExit('accepted: ' + text)\n"
    )
    bad = ['{"token": "half', '{"token": "a\\q"}', '{"token": "a\tb"}', '{"half']
    subprocess.run([sys.executable, "-c", code, *bad], timeout=30, check=True)


# ---------------------------------------------------------------- the fast path and the full CLI

_FUTURE = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7200))
_PAST = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200))
_STRING_ALTERNATIVES = ['""', "null", "1", "true", '["c"]']
_FIELDS: dict[str, list[str]] = {
    "type": ['"authorized_user"', '"service_account"', "null", "1", ""],
    "client_id": ['"c"', *_STRING_ALTERNATIVES, ""],
    "client_secret": ['"s"', *_STRING_ALTERNATIVES],
    "refresh_token": ['"r"', *_STRING_ALTERNATIVES],
    "token": ['"ya29.fresh-token"', '"bad token"', '"\\ud800ya29"', '"tok\\u00e9n"', "null", "5",
              '["ya29.x"]', '""', ""],
    "expiry": [f'"{_FUTURE}"', f'"{_PAST}"', '"2099-13-01T00:00:00Z"', '"0000-01-01T00:00:00Z"',
               '"+099-01-01T00:00:00Z"', '"2099-01-01T00:00:00.5Z"', '"2099-01-01T00:00:00._5Z"',
               '"２０９９-01-01T00:00:00Z"', "null", "1", ""],
    "scopes": ['["openid"]', '"openid email"', "[1]", "5", "null", '["a",]', ""],
    "quota_project_id": ['"my-project-1"', "5", "null", '"p\\r\\nX: y"', ""],
    "extra": ["1_0", "+1", "nan", ".5", "1.", "01", "-0", "1e5", "1E+5", "Infinity", "NaN",
              "-Infinity", "-NaN", "true", "null", "[1]", "{}", "[]", '"\\u0000"', "1 2", "0x1",
              ""],
}  # fmt: skip


@st.composite
def cache_files(draw: st.DrawFn) -> tuple[str, int, int, bool]:
    """A cache file's text (often almost valid), the file's and folder's modes, a linked home."""
    members = []
    for key, values in _FIELDS.items():
        value = draw(st.sampled_from(values[:1] * 3 + values))  # mostly the good value
        if value:
            members.append(f'"{key}": {value}')
    members.append('"token_uri": "http://127.0.0.1:9/token"')  # a refresh fails at once
    if draw(st.booleans()):
        members.insert(0, '"token": "ya29.shadowed"')  # a duplicate key: the last one wins
    text = (
        "{" + ", ".join(draw(st.permutations(members))) + draw(st.sampled_from(["}", ",}", "} "]))
    )
    return (
        text,
        draw(st.sampled_from([0o600, 0o600, 0o644, 0o400])),
        draw(st.sampled_from([0o700, 0o700, 0o755])),
        draw(st.booleans()) and draw(st.booleans()),
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cache_files())
def test_the_fast_path_serves_only_what_the_full_cli_would(
    case: tuple[str, int, int, bool],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Finding 11: both read the same file; when the fast path prints a token, the full CLI prints
    the same one, and the full CLI never fails untyped (finding 10)."""
    from gemini_oauth._cli._root import run as full_cli

    text, file_mode, folder_mode, linked = case
    base = tmp_path_factory.mktemp("case")
    home = base / "home"
    (home / "profiles").mkdir(parents=True, mode=0o700)
    if linked:
        os.replace(home, base / "real")
        home.symlink_to(base / "real")
    path = home / "profiles" / "default.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    path.chmod(file_mode)
    (home / "profiles").chmod(folder_mode)
    monkeypatch.setenv("GEMINI_OAUTH_HOME", str(home))
    served = try_print_access_token([])
    fast = capsys.readouterr().out
    code = full_cli(["print-access-token"])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2, 3, 4) and "unexpected" not in err, err
    if served:
        assert (code, out) == (0, fast), (text, err)


def test_a_symlinked_home_is_refused_by_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gemini_oauth._cli._root import run as full_cli

    write()
    real = Path(os.environ["GEMINI_OAUTH_HOME"])
    monkeypatch.setenv("GEMINI_OAUTH_HOME", str(tmp_path / "link"))
    (tmp_path / "link").symlink_to(real)
    assert run([], capsys) == (False, "")
    assert full_cli(["print-access-token"]) == 1
    assert "symbolic link" in capsys.readouterr().err
