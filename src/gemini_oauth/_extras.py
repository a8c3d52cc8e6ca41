"""How to install an optional extra ([genai], [emulator]) while gemini-oauth is on no package
index: its packages by name (read from this installation's metadata, so pyproject.toml stays the
one list), or the extra from a checkout."""

from __future__ import annotations

import shlex


def extra_packages(extra: str) -> list[str]:
    """The requirements of ``extra`` (``google-genai>=1.0``), as this installation declares."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        declared = requires("gemini-oauth") or []
    except PackageNotFoundError:
        return []
    marker = f'extra == "{extra}"'
    return [r.split(";")[0].strip() for r in declared if marker in r.replace("'", '"')]


def install_hint(extra: str) -> str:
    """``Install it with: pip install 'google-genai>=1.0' (...)``: commands that work now."""
    packages = " ".join(shlex.quote(p) for p in extra_packages(extra))
    checkout = f"in a checkout of gemini-oauth: pip install -e '.[{extra}]'"
    if not packages:
        return f"Install it {checkout}"
    return f"Install it with: pip install {packages} (or, {checkout})"


__all__ = ["extra_packages", "install_hint"]
