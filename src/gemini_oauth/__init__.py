"""gemini-oauth: OAuth access to the Gemini API from a desktop client_secret.json.

The public API is what ``__all__`` lists, re-exported here lazily so that importing the package
(as the ``print-access-token`` fast path does) costs nothing until a name is used. Modules whose
names start with ``_`` are private and may change at any time; ``gemini_oauth.errors``,
``gemini_oauth.scopes`` and ``gemini_oauth.emulator`` are public modules.
"""

TYPE_CHECKING = False  # not typing's: importing typing costs the fast path ~5 ms

__version__ = "0.1.0"

_ERRORS = (
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
)

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "CachedCredentials": "gemini_oauth._credentials",
    "load_creds": "gemini_oauth._credentials",
    "load_profile": "gemini_oauth._credentials",
    "login": "gemini_oauth._credentials",
    "default_credentials": "gemini_oauth._adc",
    "GeminiClient": "gemini_oauth._client",
    "AsyncGeminiClient": "gemini_oauth._client",
    "ModelPage": "gemini_oauth._wire",
    "Retrying": "gemini_oauth._retry",
    "FilePage": "gemini_oauth._wire",
    "CachedContentPage": "gemini_oauth._wire",
    "oauth_credentials": "gemini_oauth._request_auth",
    "genai_client": "gemini_oauth._genai",
    **dict.fromkeys(_ERRORS, "gemini_oauth.errors"),
}
_PUBLIC_MODULES = ("emulator", "errors", "scopes")

if TYPE_CHECKING:
    from gemini_oauth import errors as errors
    from gemini_oauth import scopes as scopes
    from gemini_oauth._adc import default_credentials as default_credentials
    from gemini_oauth._client import AsyncGeminiClient as AsyncGeminiClient
    from gemini_oauth._client import GeminiClient as GeminiClient
    from gemini_oauth._credentials import CachedCredentials as CachedCredentials
    from gemini_oauth._credentials import load_creds as load_creds
    from gemini_oauth._credentials import load_profile as load_profile
    from gemini_oauth._credentials import login as login
    from gemini_oauth._genai import genai_client as genai_client
    from gemini_oauth._request_auth import oauth_credentials as oauth_credentials
    from gemini_oauth._retry import Retrying as Retrying
    from gemini_oauth._wire import CachedContentPage as CachedContentPage
    from gemini_oauth._wire import FilePage as FilePage
    from gemini_oauth._wire import ModelPage as ModelPage
    from gemini_oauth.errors import AccountMismatchError as AccountMismatchError
    from gemini_oauth.errors import AdcError as AdcError
    from gemini_oauth.errors import ApiError as ApiError
    from gemini_oauth.errors import ApiKeyInvalidError as ApiKeyInvalidError
    from gemini_oauth.errors import AuthenticationError as AuthenticationError
    from gemini_oauth.errors import CacheError as CacheError
    from gemini_oauth.errors import CacheUnavailableError as CacheUnavailableError
    from gemini_oauth.errors import CacheUrlError as CacheUrlError
    from gemini_oauth.errors import CallbackError as CallbackError
    from gemini_oauth.errors import ClientSecretError as ClientSecretError
    from gemini_oauth.errors import CommandError as CommandError
    from gemini_oauth.errors import ConsentDeniedError as ConsentDeniedError
    from gemini_oauth.errors import FileStateError as FileStateError
    from gemini_oauth.errors import GeminiOAuthError as GeminiOAuthError
    from gemini_oauth.errors import InvalidGrantError as InvalidGrantError
    from gemini_oauth.errors import LoginError as LoginError
    from gemini_oauth.errors import LoginRequiredError as LoginRequiredError
    from gemini_oauth.errors import LoginTimeoutError as LoginTimeoutError
    from gemini_oauth.errors import NetworkError as NetworkError
    from gemini_oauth.errors import NotFoundError as NotFoundError
    from gemini_oauth.errors import PortInUseError as PortInUseError
    from gemini_oauth.errors import QuotaProjectError as QuotaProjectError
    from gemini_oauth.errors import RateLimitError as RateLimitError
    from gemini_oauth.errors import RevocationError as RevocationError
    from gemini_oauth.errors import ScopeError as ScopeError
    from gemini_oauth.errors import ScopeInsufficientError as ScopeInsufficientError
    from gemini_oauth.errors import ScopeNotGrantedError as ScopeNotGrantedError
    from gemini_oauth.errors import ServerError as ServerError
    from gemini_oauth.errors import ServiceDisabledError as ServiceDisabledError
    from gemini_oauth.errors import TokenEndpointError as TokenEndpointError
    from gemini_oauth.errors import UserProjectDeniedError as UserProjectDeniedError
del TYPE_CHECKING


def __getattr__(name: str) -> object:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        if name in _PUBLIC_MODULES:
            from importlib import import_module

            return import_module(f"gemini_oauth.{name}")
        raise AttributeError(f"module 'gemini_oauth' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_PUBLIC_MODULES})


__all__ = ["__version__", *_EXPORTS]
