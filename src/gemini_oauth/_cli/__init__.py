"""The ``gemini-oauth`` command line.

``main`` answers ``print-access-token`` from a valid cached token without
importing click, rich, httpx or google-auth; everything else goes to the click
application in ``_cli._root``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["print-access-token"]:
        from gemini_oauth._fastpath import try_print_access_token

        if try_print_access_token(args[1:]):
            sys.exit(0)
    from gemini_oauth._cli._root import run

    sys.exit(run(args))
