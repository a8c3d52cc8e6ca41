"""The ``gemini-oauth`` command line.

``main`` answers ``print-access-token`` and ``adc print-access-token`` from a
valid cached token without importing click, rich, httpx or google-auth;
everything else goes to the click application in ``_cli._root``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["print-access-token"]:
        from gemini_oauth._fastpath import try_print_access_token

        if try_print_access_token(args[1:]):
            sys.exit(0)
    elif args[:2] == ["adc", "print-access-token"]:
        from gemini_oauth._fastpath import try_adc_access_token

        if try_adc_access_token(args[2:]):
            sys.exit(0)
    from gemini_oauth._cli._output import pipe_closed
    from gemini_oauth._cli._root import run

    code = run(args)
    try:
        sys.stdout.flush()  # here, not at exit, where a closed pipe would print a traceback
    except BrokenPipeError:  # the command's own code stands: it finished
        pipe_closed()
    sys.exit(code)
