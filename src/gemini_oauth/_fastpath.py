"""print-access-token from a valid cached token, with only the standard library.

Owned by the token cache (store.py): returns False whenever anything needs more
than reading a file, and the full CLI takes over.
"""

from __future__ import annotations


def try_print_access_token(args: list[str]) -> bool:
    return False
