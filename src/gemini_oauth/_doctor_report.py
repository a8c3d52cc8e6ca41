"""What ``doctor`` reports: a ``Check`` per finding, the ``Visit`` the checks share, the ``Report``.

A leaf of ``_doctor`` (and of the checks kept in other modules), so that they share these
without an import cycle. Nothing secret is ever put in a Check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gemini_oauth._constants import GOOGLE_TOKEN_URI

if TYPE_CHECKING:
    import httpx
    from google.auth.credentials import Credentials

    from gemini_oauth._cache_backend import CacheRecord
    from gemini_oauth._client_secrets import ClientSecret
    from gemini_oauth.errors import GeminiOAuthError

OK, WARNING, FAILURE, SKIPPED = "ok", "warning", "failure", "skipped"


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ok, warning, failure or skipped; ``fix`` what to do about it."""

    name: str
    status: str
    summary: str
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Visit:
    """What the checks share, filled in as they run."""

    profile: str | None  # None: ADC, or the profile 'default' when it exists
    adc: bool
    http: httpx.Client
    login: str = "gemini-oauth login"
    record: dict[str, Any] | None = None
    record_path: Path | None = None
    modes: list[tuple[Path, int, int, bool]] = field(default_factory=list)  # path, mode, uid, link
    client: ClientSecret | None = None
    token_uri: str = GOOGLE_TOKEN_URI
    base_url: str = ""
    server_time: float | None = None
    credentials: Credentials | None = None
    source: str = ""
    #: The cache URL in force (--cache, $GEMINI_OAUTH_CACHE_URL); None: files.
    cache: str | None = None
    backend: CacheRecord | None = None
    backend_error: GeminiOAuthError | None = None

    @property
    def target(self) -> str:
        return "Application Default Credentials" if self.adc else f"profile '{self.profile}'"


@dataclass
class Report:
    """What ``doctor --json`` prints: the target, each check, the counts, and ``ok``."""

    target: str
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return not any(c.status == FAILURE for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        counts = {
            s: sum(c.status == s for c in self.checks) for s in (OK, WARNING, FAILURE, SKIPPED)
        }
        return {
            "target": self.target,
            "ok": self.ok,
            "counts": counts,
            "checks": [asdict(c) for c in self.checks],
        }


__all__ = ["FAILURE", "OK", "SKIPPED", "WARNING", "Check", "Report", "Visit"]
