"""gemini-oauth: OAuth access to the Gemini API from a desktop client_secret.json.

The public API is re-exported here lazily, so that importing the package (as the
``print-access-token`` fast path does) costs nothing until a name is used.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs the fast path ~5 ms
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    "errors": "gemini_oauth.errors",
    "scopes": "gemini_oauth.scopes",
    "CachedCredentials": "gemini_oauth.credentials",
    "load_creds": "gemini_oauth.credentials",
    "load_profile": "gemini_oauth.credentials",
    "login": "gemini_oauth.credentials",
    "adc": "gemini_oauth.adc",
    "default_credentials": "gemini_oauth.adc",
    "GeminiClient": "gemini_oauth.gemini",
    "AsyncGeminiClient": "gemini_oauth.gemini",
    "ModelPage": "gemini_oauth.gemini",
    "genai_client": "gemini_oauth.genai",
}

if TYPE_CHECKING:
    from gemini_oauth import adc as adc
    from gemini_oauth import errors as errors
    from gemini_oauth import scopes as scopes
    from gemini_oauth.adc import default_credentials as default_credentials
    from gemini_oauth.credentials import CachedCredentials as CachedCredentials
    from gemini_oauth.credentials import load_creds as load_creds
    from gemini_oauth.credentials import load_profile as load_profile
    from gemini_oauth.credentials import login as login
    from gemini_oauth.gemini import AsyncGeminiClient as AsyncGeminiClient
    from gemini_oauth.gemini import GeminiClient as GeminiClient
    from gemini_oauth.gemini import ModelPage as ModelPage
    from gemini_oauth.genai import genai_client as genai_client


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'gemini_oauth' has no attribute {name!r}")
    from importlib import import_module

    module = import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = ["__version__", *_EXPORTS]
