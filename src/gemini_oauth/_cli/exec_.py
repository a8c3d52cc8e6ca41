"""`gemini-oauth exec`: run a command with a metadata server for its lifetime."""

from __future__ import annotations

import click

from gemini_oauth._cli._options import cache_url, exit_with, grant_options, verbose_option


@click.command(
    "exec",
    short_help="Run a command with your tokens from a metadata server.",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@grant_options
@click.option(
    "--env-token",
    is_flag=True,
    help="Also set GOOGLE_OAUTH_ACCESS_TOKEN and CLOUDSDK_AUTH_ACCESS_TOKEN (Terraform, gcloud) "
    "to an access token: a static token, valid at most its remaining lifetime (under an hour).",
)
@verbose_option
@click.argument(
    "command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- COMMAND [ARGS]..."
)
def exec_(profile: str | None, adc: bool, env_token: bool, command: tuple[str, ...]) -> None:
    """Run COMMAND with a metadata server serving your login's access tokens to it.

    \b
    gemini-oauth exec -- python app.py
    gemini-oauth exec --env-token -- terraform plan

    google.auth.default() in COMMAND, and Google's libraries in other languages, find the
    server through GCE_METADATA_HOST and GCE_METADATA_IP (GOOGLE_CLOUD_QUOTA_PROJECT is set from
    the login's quota project). So that they use it even when you have an ADC file or
    GOOGLE_APPLICATION_CREDENTIALS: COMMAND runs without GOOGLE_APPLICATION_CREDENTIALS (nor
    GEMINI_OAUTH_PROFILE, NO_GCE_CHECK, CLOUDSDK_CORE_CHECK_GCE_METADATA), and with
    CLOUDSDK_CONFIG and GEMINI_OAUTH_HOME naming an empty private directory that is removed
    afterwards: gcloud and gemini-oauth in COMMAND start with no saved login and use the
    server too, as on a VM.

    Only access tokens reach COMMAND; the refresh token never enters its environment,
    arguments or files. The server refreshes as needed and stops when COMMAND ends. Signals
    sent to gemini-oauth are forwarded (Ctrl-C reaches COMMAND once). The exit status is
    COMMAND's (127 if it cannot be started).
    """
    from gemini_oauth import _exec
    from gemini_oauth._token_source import TokenSource

    if profile and adc:
        raise click.UsageError("--profile and --adc name two different logins; pass one.")
    source = TokenSource.resolve(profile, adc=adc, cache=cache_url())
    try:
        status = _exec.run(command, source, env_token=env_token)
    finally:
        source.close()
    exit_with(_exec.end_like(status))
