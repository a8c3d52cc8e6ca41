"""``gemini-oauth doctor``: check the whole set-up, each finding with its fix."""

from __future__ import annotations

import click
from click.core import ParameterSource

from gemini_oauth._cli._options import (
    cache_url,
    echo_json,
    exit_with,
    json_option,
    profile_option,
    say,
    verbose_option,
)

_MARKS = {"ok": "✓", "warning": "!", "failure": "✗", "skipped": "-"}


@click.command(short_help="Check the whole set-up; each finding with its fix.")
@profile_option
@click.option("--adc", is_flag=True, help="Check Application Default Credentials instead.")
@json_option(
    'Print the report as JSON: {"target", "ok", "counts": {ok, warning, failure, skipped}, '
    '"checks": [{"name", "status", "summary", "fix", "details"}]} (docs/JSON.md).'
)
@verbose_option
def doctor(profile: str, adc: bool, as_json: bool) -> None:
    """Check the set-up in order, each finding ok, warning or failure with its fix.

    Checks: the OAuth client file; the clock against the token endpoint's; that the OAuth
    and Gemini hosts answer (through your proxy); the cache's owner and modes; the login
    (refresh token, access token, the grant's age against the 7-day Testing rule); the
    scopes; Google's tokeninfo (issued to this client); one real API call with the quota
    project; and the environment variables that steer all of this. Nothing secret is
    printed.

    Without --profile or --adc: the default profile if it exists (see 'gemini-oauth
    profiles'), else ADC, as the API commands choose. Exit code 1 when any check fails.
    """
    from gemini_oauth._doctor import run

    named = click.get_current_context().get_parameter_source("profile")
    chosen = profile if named is not ParameterSource.DEFAULT else None
    if adc and chosen is not None:
        raise click.UsageError("Give --profile NAME or --adc, not both.")
    report = run(chosen, adc=adc, cache=cache_url())
    if as_json:
        echo_json(report.to_dict())
    else:
        say(f"Checking {report.target}:")
        width = max(len(c.name) for c in report.checks)
        for check in report.checks:
            click.echo(f"{_MARKS.get(check.status, '?')} {check.name:<{width}}  {check.summary}")
            if check.fix and check.status != "ok":
                click.echo(f"  {'':<{width}}  fix: {check.fix}")
        counts = report.to_dict()["counts"]
        plural = {"warning": "warnings", "failure": "failures"}
        shown = ", ".join(f"{n} {plural.get(s, s) if n > 1 else s}" for s, n in counts.items() if n)
        say(f"{shown}.")
    if not report.ok:
        exit_with(1)
