"""`gemini-oauth metadata-server`: tokens for other programs over Google's metadata protocol."""

from __future__ import annotations

import errno
import ipaddress
import shlex
import signal
import threading
from typing import TYPE_CHECKING

import click

from gemini_oauth._cli._options import cache_url, grant_options, say, verbose_option
from gemini_oauth._constants import CREDENTIALS_ENV, QUOTA_PROJECT_ENV, is_loopback_host
from gemini_oauth.errors import GeminiOAuthError

if TYPE_CHECKING:
    from gemini_oauth._metadata_server import MetadataServer


def _ip(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if value.lower() == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise click.BadParameter(
            "an IP address of this machine (127.0.0.1, ::1, 0.0.0.0, ...)."
        ) from None


@click.command(
    "metadata-server", short_help="Serve your tokens as a Compute Engine metadata server."
)
@grant_options
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    metavar="PORT",
    help="TCP port (default: 0, a free one).",
)
@click.option(
    "--host",
    metavar="IP",
    default="127.0.0.1",
    show_default=True,
    callback=_ip,
    help="Address to listen on. Anything but loopback exposes tokens to whoever can reach it.",
)
@click.option(
    "--unix-socket",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Also listen on this Unix socket (mode 0600, in a directory of yours): the way into a "
    "container, which relays it to a port of its own (see the README).",
)
@verbose_option
def metadata_server(
    profile: str | None, adc: bool, port: int, host: str, unix_socket: str | None
) -> None:
    """Serve access tokens to other programs as a Compute Engine metadata server does.

    Google's client libraries (every language), gcloud and Terraform fetch tokens from it when
    GCE_METADATA_HOST names it: the export lines for another shell are printed on stdout.
    Only short-lived access tokens leave it, never the refresh token. It refuses requests
    without Metadata-Flavor: Google or with X-Forwarded-For (as Google's server does),
    connections from other users' processes, and tokens for scopes the login lacks.
    Ctrl-C stops it. -v logs each request (path and status, never a token).

    \b
    In another shell (the lines it prints):
      export GCE_METADATA_HOST=127.0.0.1:PORT GCE_METADATA_IP=127.0.0.1:PORT
    To run one command with it, use 'gemini-oauth exec' instead.
    """
    from gemini_oauth import _adc
    from gemini_oauth._metadata_server import MetadataServer
    from gemini_oauth._setup import profile_command
    from gemini_oauth._token_source import TokenSource

    if profile and adc:
        raise click.UsageError("--profile and --adc name two different logins; pass one.")
    source = TokenSource.resolve(profile, adc=adc, cache=cache_url())
    try:
        source.token()  # a dead login fails here, not in the first program that asks
        try:
            server = MetadataServer(source, host=host, port=port, unix_socket=unix_socket)
        except OSError as exc:
            again = (
                "gemini-oauth metadata-server --adc"
                if adc
                else profile_command("metadata-server", profile or "default", cache_url())
            )
            raise _bind_error(exc, host, port, again) from None
        reachable = server.address  # from this machine: a wildcard address means loopback too
        if ipaddress.ip_address(host).is_unspecified:
            bound = reachable.rsplit(":", 1)[1]
            reachable = f"[::1]:{bound}" if ":" in host else f"127.0.0.1:{bound}"
        for name in server.environment():
            click.echo(f"export {name}={shlex.quote(reachable)}")
        if source.quota_project:
            click.echo(f"export {QUOTA_PROJECT_ENV}={shlex.quote(source.quota_project)}")
        say(f"Serving access tokens of {source.description} on http://{server.address}.")
        if server.unix_socket is not None:
            say(f"Also on the Unix socket {server.unix_socket} (mode 0600).")
        if not is_loopback_host(host):
            say(
                f"warning: listening on {host}, not loopback: any process that can reach "
                f"{server.address} (other machines, containers) gets access tokens of "
                f"{source.description}, as any process on a VM can ask its metadata server. "
                "Processes of other users on this machine are still refused."
            )
        if not server.peers_known:
            say(
                "warning: this system does not tell which user a loopback connection comes "
                "from, so any local user who finds the port gets tokens."
            )
        adc_file = _adc.adc_path()
        if _adc.override_path() is not None or adc_file.exists():
            say(
                f"note: google.auth.default() prefers ${CREDENTIALS_ENV} and {adc_file} to a "
                "metadata server; 'gemini-oauth exec' hides both from its command."
            )
        say("Ctrl-C stops it.")
        _serve_until_stopped(server)
    finally:
        source.close()
    say("Stopped.")


def _serve_until_stopped(server: MetadataServer) -> None:
    """Serve until SIGINT or SIGTERM (Ctrl-C, kill): both end it cleanly, exit code 0."""
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda _s, _f: stop.set()) for sig in signals}
    server.start()
    try:
        while not stop.wait(3600):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _bind_error(exc: OSError, host: str, port: int, command: str) -> GeminiOAuthError:
    if exc.errno == errno.EADDRINUSE:
        return GeminiOAuthError(
            f"Port {port} on {host} is in use.",
            hint=f"Choose another with --port, or leave it out for a free one: '{command}'.",
        )
    return GeminiOAuthError(
        f"Cannot listen on {host}:{port}: {exc.strerror}.",
        hint="Use an address of this machine with --host, or leave it out for 127.0.0.1.",
    )
