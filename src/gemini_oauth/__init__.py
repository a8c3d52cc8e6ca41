"""gemini-oauth: OAuth access to the Gemini API from a desktop client_secret.json.

The public API is re-exported here lazily, so that importing the package (as the
``print-access-token`` fast path does) costs nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    "errors": "gemini_oauth.errors",
    "scopes": "gemini_oauth.scopes",
}

if TYPE_CHECKING:
    from gemini_oauth import errors as errors
    from gemini_oauth import scopes as scopes


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'gemini_oauth' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = ["__version__", *_EXPORTS]
