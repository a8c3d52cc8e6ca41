"""``gemini-oauth cache``: share a login through a cache server (Redis).

``publish`` (access tokens only: the refresh token stays on this machine) and ``push`` (the
whole login, for ``mode=grant``, where any machine may refresh it).
"""

from __future__ import annotations

import click

from gemini_oauth._cli._options import (
    environment_only_password,
    local_profile_option,
    say,
    verbose_option,
)
from gemini_oauth._constants import CACHE_URL_ENV

#: ``--to URL``: the cache server; with a password, only from the environment.
to_option = click.option(
    "--to",
    "url",
    metavar="URL",
    envvar=CACHE_URL_ENV,
    required=True,
    callback=environment_only_password,
    help="The cache server: redis://HOST:PORT/DB on loopback, else rediss:// (TLS). Default: "
    f"${CACHE_URL_ENV}; a URL with a password only from there (a command line is public).",
)


@click.group()
@verbose_option
def cache() -> None:
    """Share a login with other machines through Redis.

    \b
    Two modes, chosen by the URL the workers use (--cache or
    $GEMINI_OAUTH_CACHE_URL):
      redis://HOST:PORT/DB
          the whole login is in Redis (push it there, or log in with
          --cache URL); any machine refreshes it, one at a time, once per
          expiry for the whole fleet.
      redis://HOST:PORT/DB?mode=tokens
          access tokens only: 'cache publish' keeps the refresh token here
          and publishes access tokens; workers read them and never see a
          refresh token.

    docs/REDIS.md has the Redis ACL each mode needs.
    """


@cache.command(short_help="Publish a login's access tokens to Redis, for workers.")
@local_profile_option
@to_option
@click.option(
    "--interval",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Set the token again this often (a Redis restarted empty has it back within this).",
)
@click.option("--once", is_flag=True, help="Publish once (refreshing if needed) and exit.")
@verbose_option
def publish(profile: str, url: str, interval: float, once: bool) -> None:
    """Publish the access tokens of a login saved on this machine (its file) to Redis until
    stopped (Ctrl-C); the refresh token never leaves this machine.

    It refreshes ten minutes before expiry (workers come back at five), sets the token again
    every --interval seconds, and the key expires with the token. Workers use the same URL
    with ?mode=tokens:

    \b
      GEMINI_OAUTH_CACHE_URL='rediss://publisher:PASSWORD@redis:6380/0' \\
          gemini-oauth cache publish --profile team
      GEMINI_OAUTH_CACHE_URL='rediss://worker:PASSWORD@redis:6380/0?mode=tokens' \\
          gemini-oauth models list --profile team
    """
    from gemini_oauth import _clock
    from gemini_oauth._cache_url import parse_cache_url
    from gemini_oauth._clock import to_rfc3339
    from gemini_oauth._publisher import Publisher
    from gemini_oauth._redis_cache import RedisRecord
    from gemini_oauth._store import validate_profile_name
    from gemini_oauth._token_source import TokenSource

    target = RedisRecord(parse_cache_url(url), validate_profile_name(profile))
    source = TokenSource.resolve(profile, cache="")  # the login on this machine, its file
    key = target.url.key("access-token", profile)
    say(f"Publishing the access tokens of {source.description} to {target.url.shown} key {key}.")
    say("The refresh token stays on this machine." + ("" if once else " Ctrl-C stops."))

    def told(expires_at: float) -> None:
        left = int(expires_at - _clock.now()) // 60
        say(f"Published an access token valid until {to_rfc3339(expires_at)} ({left} min).")

    publisher = Publisher(
        source,
        target,
        interval=interval,
        on_new=told,
        on_trouble=lambda message: say(f"warning: {message} Trying again."),
    )
    try:
        if once:
            publisher.publish_once()
        else:
            publisher.run()
    finally:
        source.close()


@cache.command(short_help="Copy a login (refresh token included) into Redis.")
@local_profile_option
@to_option
@verbose_option
def push(profile: str, url: str) -> None:
    """Copy a login saved on this machine (refresh token included) into Redis, for machines
    that use the URL without ?mode=tokens. Then this machine can use it too: set
    $GEMINI_OAUTH_CACHE_URL.
    """
    from gemini_oauth._cache_url import parse_cache_url
    from gemini_oauth._published import publish_hint
    from gemini_oauth._redis_cache import RedisRecord
    from gemini_oauth._setup import login_command
    from gemini_oauth._store import has_grant, profile_file, validate_profile_name
    from gemini_oauth.errors import CacheError, LoginRequiredError

    chosen = parse_cache_url(url)
    if chosen.tokens_only:
        raise CacheError(
            f"{chosen.shown} is for access tokens only; a login is never stored there.",
            hint=f"Run {publish_hint(profile)} instead.",
        )
    data = profile_file(validate_profile_name(profile)).read()
    if not has_grant(data):
        raise LoginRequiredError(
            f"Profile '{profile}' holds no login on this machine to push.",
            hint=f"Run '{login_command(profile)}' first.",
        )
    assert data is not None
    target = RedisRecord(chosen, profile)
    with target.lock():
        target.write(data)
    say(f"Pushed profile '{profile}' ({data.get('account') or 'unknown account'}) to "
        f"{target.location}.")  # fmt: skip
    say(f"Machines with {CACHE_URL_ENV}={chosen.shown} now share it.")
