"""The one error hierarchy of gemini-oauth.

Every error says what went wrong and, in ``hint``, what to do next. No error
message ever contains a token, code, verifier or client secret.

    GeminiOAuthError
    ├── ClientSecretError        client_secret.json missing, unreadable or not a Desktop client
    ├── QuotaProjectError        a quota project id that is not a project id
    ├── ScopeError               a scope name Google would not know (checked before the browser)
    ├── CacheError               a token cache that is corrupt or unsafe
    │   ├── CacheUrlError        a cache URL that is malformed or would send tokens in clear
    │   └── CacheUnavailableError  the cache server (Redis) cannot be reached (try again)
    ├── LoginError               the interactive login did not complete
    │   ├── ConsentDeniedError   the user pressed Deny (error=access_denied)
    │   ├── CallbackError        a redirect that failed a check (state, path, host)
    │   ├── LoginTimeoutError    nobody finished the login in time
    │   ├── PortInUseError       the requested loopback port is taken
    │   ├── ScopeNotGrantedError the user unticked a scope that is required
    │   └── AccountMismatchError the sign-in was of another account than asked for or cached
    ├── LoginRequiredError       no usable credentials and not allowed to log in
    ├── TokenEndpointError       the token endpoint refused or answered nonsense
    │   └── InvalidGrantError    refresh token revoked or expired (Testing apps: 7 days)
    ├── RevocationError          the revocation endpoint did not confirm (RFC 7009)
    ├── AdcError                 Application Default Credentials missing or unusable
    ├── NetworkError             the API could not be reached (refused, dropped, timed out)
    ├── FileStateError           an uploaded file FAILED processing, or never became ACTIVE
    ├── CommandError             `gemini-oauth exec` could not start the command
    └── ApiError                 the Gemini API answered with an error (google.rpc.Status)
        ├── AuthenticationError      401: token expired, revoked or missing
        ├── ScopeInsufficientError   403 ACCESS_TOKEN_SCOPE_INSUFFICIENT
        ├── ServiceDisabledError     403 SERVICE_DISABLED
        ├── UserProjectDeniedError   403 USER_PROJECT_DENIED
        ├── ApiKeyInvalidError       400 API_KEY_INVALID
        ├── NotFoundError            404
        ├── RateLimitError           429 after retries
        └── ServerError              5xx after retries
"""

from __future__ import annotations

from typing import Any, ClassVar


class GeminiOAuthError(Exception):
    """Base of every error raised by gemini-oauth.

    ``exit_code`` is what the command line exits with; ``hint`` is one sentence
    telling the user what to do next.
    """

    #: The class's code; an instance may carry its own (a transient TokenEndpointError: 1).
    exit_code: int = 1
    default_hint: ClassVar[str] = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip() if self.hint else self.message


class ClientSecretError(GeminiOAuthError):
    """The OAuth client file is missing, unreadable, or not an installed (Desktop) client."""

    exit_code = 2
    default_hint = (
        "Download a 'Desktop app' OAuth client from Google Cloud console > Google Auth platform > "
        "Clients."
    )


class QuotaProjectError(GeminiOAuthError):
    """A quota project (flag, argument or environment) that is not a Google Cloud project id."""

    exit_code = 2
    default_hint = "Use the project ID (e.g. my-project-123) or number from the console."


class ScopeError(GeminiOAuthError):
    """A short scope name that is not known: refused before the browser opens (Google would show
    its own ``invalid_scope`` page and never return to the login)."""

    exit_code = 2


class CacheError(GeminiOAuthError):
    """A token cache file is corrupt, unsafe (symlink, group/world readable) or unwritable."""

    default_hint = "Run 'gemini-oauth login' to create a fresh cache."


class CacheUrlError(CacheError):
    """A cache URL ($GEMINI_OAUTH_CACHE_URL, --cache) that is malformed or unsafe."""

    exit_code = 2
    default_hint = "Use redis://HOST:PORT/DB (loopback) or rediss://HOST:PORT/DB (TLS)."


class CacheUnavailableError(CacheError):
    """The cache server cannot be reached (for now: a held token is kept, a publisher tries
    again). A server that refuses our user (password, ACL) is a plain CacheError."""

    default_hint = "Check that Redis is running and reachable from here, then try again."


class LoginError(GeminiOAuthError):
    """The interactive login did not complete."""

    exit_code = 3
    default_hint = "Run 'gemini-oauth login' again."


class ConsentDeniedError(LoginError):
    """The user declined consent (error=access_denied)."""

    default_hint = "Run 'gemini-oauth login' again and press Allow on the consent page."


class CallbackError(LoginError):
    """The redirect back to the loopback listener failed a check."""


class LoginTimeoutError(LoginError):
    """Nobody completed the browser step before the timeout."""

    default_hint = "Run 'gemini-oauth login' again, or give more time with --timeout SECONDS."


class PortInUseError(LoginError):
    """The loopback port asked for with --port is already taken."""

    default_hint = "Choose another --port, or leave it out to use a free ephemeral port."


class ScopeNotGrantedError(LoginError):
    """The user unticked a scope that the program requires."""

    def __init__(self, message: str, *, missing: list[str], hint: str | None = None) -> None:
        super().__init__(
            message,
            hint=hint
            or "Run 'gemini-oauth login' again and leave every requested permission ticked.",
        )
        self.missing = missing


class AccountMismatchError(LoginError):
    """The account signed in is not the one asked for (``--login-hint``) or the one the profile
    already holds. Nothing was saved; ``expected`` and ``actual`` are the two accounts."""

    def __init__(
        self, message: str, *, expected: str, actual: str, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.expected = expected
        self.actual = actual


class LoginRequiredError(GeminiOAuthError):
    """No usable credentials, and this context may not open a login."""

    exit_code = 3
    default_hint = "Run 'gemini-oauth login' in a terminal, then try again."


class TokenEndpointError(GeminiOAuthError):
    """The token endpoint returned an OAuth error or a malformed response, or was unreachable.

    ``error``, ``subtype`` (Google's ``error_subtype``, e.g. ``invalid_rapt``) and
    ``description`` are the server's, made safe to show; ``status`` is the HTTP status.
    ``transient`` is True when trying again later may work and signing in again would not help
    (unreachable, 408/429/5xx, ``temporarily_unavailable``). The exit code is 3 (login needed)
    unless the failure is transient (1; 4 during an API call) or the client was refused (2).
    """

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        status: int | None = None,
        subtype: str | None = None,
        transient: bool = False,
        hint: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.error = error
        self.description = description
        self.status = status
        self.subtype = subtype
        self.transient = transient
        if exit_code is not None or transient:
            self.exit_code = exit_code if exit_code is not None else 1


#: Why a refresh token may die weekly, and the fix (Google's Testing-status rule).
TESTING_NOTE = (
    "If this happens every 7 days, the OAuth app is in Testing status: publish it to Production "
    "in Google Auth platform > Audience."
)


class InvalidGrantError(TokenEndpointError):
    """The refresh token (or code) is no longer valid: revoked, expired or already used."""

    default_hint = "Run 'gemini-oauth login' to sign in again. " + TESTING_NOTE


class RevocationError(GeminiOAuthError):
    """The revocation endpoint did not confirm revocation; local credentials were kept.

    ``error`` and ``description`` are the server's reason (RFC 7009 §2.2.1), made safe to show.
    """

    default_hint = "Try again later; nothing was deleted."

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.error = error
        self.description = description
        self.status = status


class AdcError(GeminiOAuthError):
    """Application Default Credentials are missing or cannot be used."""

    exit_code = 3
    default_hint = "Run 'gemini-oauth adc login'."


class NetworkError(GeminiOAuthError):
    """The API could not be reached (connection refused, dropped, timed out) within the retries."""

    exit_code = 4
    default_hint = (
        "Check the network and the endpoint (--endpoint or GOOGLE_GEMINI_BASE_URL), then try again."
    )


class FileStateError(GeminiOAuthError):
    """A Files API file failed processing, or was still PROCESSING when the wait ended."""

    exit_code = 4
    default_hint = (
        "Check it with 'gemini-oauth files get NAME'; large videos take minutes to process."
    )


class CommandError(GeminiOAuthError):
    """``gemini-oauth exec`` could not start the command (not found, not executable); exit 127,
    as shells and ``env`` say "command not found"."""

    exit_code = 127
    default_hint = "Check the command after '--': a full path, or a name on PATH."


class ApiError(GeminiOAuthError):
    """An error answer from the Gemini API, keeping Google's status, reason and metadata."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        code: int,
        status: str = "",
        reason: str = "",
        metadata: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.status = status
        self.reason = reason
        self.metadata = metadata or {}
        self.details = details or []


class AuthenticationError(ApiError):
    """401: the access token is expired, revoked, or missing."""

    default_hint = "Run 'gemini-oauth login' to get fresh credentials."


class ScopeInsufficientError(ApiError):
    """403 ACCESS_TOKEN_SCOPE_INSUFFICIENT."""


class ServiceDisabledError(ApiError):
    """403 SERVICE_DISABLED: the Generative Language API is off in the quota project."""


class UserProjectDeniedError(ApiError):
    """403 USER_PROJECT_DENIED: the account may not bill the quota project."""


class ApiKeyInvalidError(ApiError):
    """400 API_KEY_INVALID."""


class NotFoundError(ApiError):
    """404: no such model or resource."""

    default_hint = "Run 'gemini-oauth models list' to see the names available to you."


class RateLimitError(ApiError):
    """429 RESOURCE_EXHAUSTED that outlasted the retries."""

    default_hint = "Wait a minute and try again, or request more quota for the project."


class ServerError(ApiError):
    """5xx that outlasted the retries."""

    default_hint = "Google's side failed; try again shortly."


__all__ = [
    "AccountMismatchError",
    "AdcError",
    "ApiError",
    "ApiKeyInvalidError",
    "AuthenticationError",
    "CacheError",
    "CacheUnavailableError",
    "CacheUrlError",
    "CallbackError",
    "ClientSecretError",
    "CommandError",
    "ConsentDeniedError",
    "FileStateError",
    "GeminiOAuthError",
    "InvalidGrantError",
    "LoginError",
    "LoginRequiredError",
    "LoginTimeoutError",
    "NetworkError",
    "NotFoundError",
    "PortInUseError",
    "QuotaProjectError",
    "RateLimitError",
    "RevocationError",
    "ScopeError",
    "ScopeInsufficientError",
    "ScopeNotGrantedError",
    "ServerError",
    "ServiceDisabledError",
    "TokenEndpointError",
    "UserProjectDeniedError",
]
