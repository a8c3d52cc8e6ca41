"""The child's environment under `gemini-oauth exec` (its processes: tests/cli/test_exec.py)."""

from __future__ import annotations

from pathlib import Path

from gemini_oauth._exec import TOKEN_ENVS, child_environment

SERVER = {"GCE_METADATA_HOST": "127.0.0.1:1", "GCE_METADATA_IP": "127.0.0.1:1"}
PARENT = {
    "PATH": "/usr/bin",
    "GOOGLE_APPLICATION_CREDENTIALS": "/home/me/key.json",
    "GEMINI_OAUTH_PROFILE": "work",
    "GEMINI_OAUTH_HOME": "/home/me/.config/gemini-oauth",
    "CLOUDSDK_CONFIG": "/home/me/.config/gcloud",
    "NO_GCE_CHECK": "true",
    "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
    "GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.someone-elses",
    "CLOUDSDK_AUTH_ACCESS_TOKEN": "ya29.someone-elses",
}


def test_everything_a_library_would_prefer_to_the_server_is_gone(tmp_path: Path) -> None:
    env = child_environment(PARENT, SERVER, scratch=tmp_path, quota_project="billed")
    assert env == {
        "PATH": "/usr/bin",
        **SERVER,
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "GEMINI_OAUTH_HOME": str(tmp_path / "gemini-oauth"),
        "GOOGLE_CLOUD_QUOTA_PROJECT": "billed",
    }


def test_env_token_and_a_quota_project_the_user_chose(tmp_path: Path) -> None:
    parent = {**PARENT, "GOOGLE_CLOUD_QUOTA_PROJECT": "mine"}
    env = child_environment(parent, SERVER, scratch=tmp_path, quota_project="billed", token="t")
    assert env["GOOGLE_CLOUD_QUOTA_PROJECT"] == "mine"
    assert [env[name] for name in TOKEN_ENVS] == ["t", "t"]
    without = child_environment(parent, SERVER, scratch=tmp_path)
    assert not set(TOKEN_ENVS) & set(without)
