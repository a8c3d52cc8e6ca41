"""Run a command with a metadata server for its lifetime: ``gemini-oauth exec``.

The child's environment points Google's libraries at the server, and hides every other
credential they would prefer to it: google.auth.default() tries $GOOGLE_APPLICATION_CREDENTIALS,
then gcloud's ADC file in $CLOUDSDK_CONFIG, before the metadata server. So the child gets no
GOOGLE_APPLICATION_CREDENTIALS, and CLOUDSDK_CONFIG and GEMINI_OAUTH_HOME name an empty private
directory made for it (gcloud and gemini-oauth in the child start with no saved login, so they
too use the server). Nothing of the refresh token reaches the child's environment, arguments
or files. Signals sent to us are forwarded; those the terminal sent to the whole foreground group
(Ctrl-C) already reached the child and are not sent twice.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gemini_oauth._constants import (
    CACHE_URL_ENV,
    CLOUDSDK_CONFIG_ENV,
    CREDENTIALS_ENV,
    HOME_ENV,
    PROFILE_ENV,
    QUOTA_PROJECT_ENV,
)
from gemini_oauth._metadata_server import MetadataServer
from gemini_oauth._token_source import TokenSource
from gemini_oauth.errors import CommandError

#: Static-token variables (Terraform's, gcloud's), set only with --env-token.
TOKEN_ENVS = ("GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN")
#: Removed from the child: each would make a library (or gcloud) skip the metadata server.
HIDDEN_ENVS = (
    CREDENTIALS_ENV,
    PROFILE_ENV,
    CACHE_URL_ENV,  # the child's own gemini-oauth asks the server, and sees no Redis password
    "NO_GCE_CHECK",
    "CLOUDSDK_CORE_CHECK_GCE_METADATA",
    *TOKEN_ENVS,
)
#: Signals forwarded to the child (when not already sent to it by the terminal).
FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
_SI_KERNEL = 0x80  # Linux si_code of a signal the kernel sent (the terminal's Ctrl-C, hangup)


def child_environment(
    parent: Mapping[str, str],
    server: Mapping[str, str],
    *,
    scratch: Path,
    quota_project: str | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """The child's environment: ``parent`` pointed at the server (``server``'s variables)."""
    env = {k: v for k, v in parent.items() if k not in HIDDEN_ENVS}
    env.update(server)
    env[CLOUDSDK_CONFIG_ENV] = str(scratch / "gcloud")
    env[HOME_ENV] = str(scratch / "gemini-oauth")
    if quota_project and not parent.get(QUOTA_PROJECT_ENV):
        env[QUOTA_PROJECT_ENV] = quota_project
    if token is not None:
        env.update(dict.fromkeys(TOKEN_ENVS, token))
    return env


def run(command: Sequence[str], source: TokenSource, *, env_token: bool = False) -> int:
    """Run ``command`` beside a metadata server for ``source``; its exit status (negative: the
    signal that ended it). The login is checked first: a dead one fails before the child runs."""
    token = source.token()
    server = MetadataServer(source)  # listening from here on; served once the child runs
    scratch = Path(tempfile.mkdtemp(prefix="gemini-oauth-exec-"))
    try:
        env = child_environment(
            os.environ,
            server.environment(),
            scratch=scratch,
            quota_project=source.quota_project,
            token=token.token if env_token else None,
        )
        try:
            child = subprocess.Popen(list(command), env=env)
        except OSError as exc:
            raise CommandError(f"Cannot run {command[0]!r}: {exc.strerror}.") from None
        return _wait(child, server)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _wait(child: subprocess.Popen[bytes], server: MetadataServer) -> int:
    """Serve until the child ends, forwarding signals; threads start with them blocked, so
    only this thread takes them."""
    if not hasattr(signal, "sigtimedwait"):  # pragma: no cover - not Linux
        return _wait_with_handlers(child, server)
    watched = {*FORWARDED, signal.SIGCHLD}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    try:
        server.start()
        while child.poll() is None:
            info = signal.sigtimedwait(watched, 1.0)
            if info is None or info.si_signo == signal.SIGCHLD:
                continue
            if info.si_code != _SI_KERNEL:  # the terminal's signals reached the child already
                _send(child, info.si_signo)
        return child.returncode
    finally:
        server.stop()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _wait_with_handlers(
    child: subprocess.Popen[bytes], server: MetadataServer
) -> int:  # pragma: no cover - not Linux
    """Where signals carry no sender: forward every one (as aws-vault does)."""
    previous = {sig: signal.signal(sig, lambda s, _f: _send(child, s)) for sig in FORWARDED}
    try:
        server.start()
        return child.wait()
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _send(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has just ended
        child.send_signal(signum)


def end_like(status: int) -> int:
    """For a child killed by a signal (negative status), end this process by the same signal;
    returns the shell's code for it (128 + N) where that is not possible."""
    if status >= 0:
        return status
    signum = -status
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(OSError, ValueError):  # SIGKILL's action cannot be set (no need)
        signal.signal(signum, signal.SIG_DFL)
    with contextlib.suppress(OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
    return 128 + signum


__all__ = ["FORWARDED", "TOKEN_ENVS", "child_environment", "end_like", "run"]
