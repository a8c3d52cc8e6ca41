"""The emulator's world: users, projects, clients, grants, tokens, faults, counters, its clock and
its sleep (the seam for every wait of the server); Files API files, buckets and cached contents.

Everything is guarded by one re-entrant lock. With a ``path`` the persistent part (users,
projects, clients, app status, clock offset, grants and tokens) is written as JSON, 0600 and
atomically, after every change, and read back on start, so a restarted emulator loses no grant.
Files, buckets and cached contents are not persisted: they hold content, and Google forgets them
within days anyway (files after 48 hours, caches after their TTL).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gemini_oauth.emulator._buckets import BucketStore
from gemini_oauth.emulator._constants import (
    ACCESS_TOKEN_LIFETIME,
    DEFAULT_API_KEY,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PROJECT_ID,
    DEFAULT_PROJECT_NUMBER,
    DEFAULT_SERVICE_ACCOUNT,
    DEFAULT_USER,
    REFRESH_TOKEN_LIMIT,
    TESTING_REFRESH_LIFETIME,
)
from gemini_oauth.emulator._file_store import FileStore
from gemini_oauth.emulator._records import (
    AccessTokenInfo,
    AuthCode,
    CachedContent,
    Client,
    ConsentRequest,
    Fault,
    Grant,
    Project,
    ServiceAccount,
    User,
    random_token,
    user_sub,
)
from gemini_oauth.emulator._scopes import CLOUD_PLATFORM, IDENTITY_SCOPES

#: Counters that exist from the start, so that ``GET counters`` shows them as 0.
OAUTH_COUNTERS = (
    "auth",
    "token.authorization_code",
    "token.refresh_token",
    "revoke",
    "tokeninfo",
    "userinfo",
    "token.jwt_bearer",
    "metadata.token",
)


class EmulatorState:
    """Mutable emulator state; handlers take ``lock`` and call ``changed()`` after a mutation."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.lock = threading.RLock()
        self.path = Path(path) if path is not None else None
        #: How the server waits (fault latency, pauses between streamed chunks): a seam, so
        #: that tests can see what was asked for instead of waiting for it.
        self.sleep: Callable[[float], None] = time.sleep
        #: Files API bytes live in a temp dir of the file store, never in the state file.
        self.files = FileStore()
        self.buckets = BucketStore()
        self.reset(save=False)
        if self.path is not None and self.path.exists():
            try:
                self._load(self.path)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{self.path} is not a readable emulator state file") from exc
        else:
            self.changed()  # an unwritable path fails here, not at the first grant

    # -- the interface the Gemini endpoints rely on -------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    def access_token_info(self, token: str) -> AccessTokenInfo | None:
        """An issued access token, else a valid self-signed service-account JWT (AIP-4111)."""
        with self.lock:
            info = self.access_tokens.get(token)
            if info is None and token.count(".") == 2:
                return self._self_signed(token)
            return info

    def client_project(self, client_id: str) -> Project:
        """The project owning an OAuth client or a service account (by its unique id)."""
        with self.lock:
            client = self.clients.get(client_id)
            project_id = client.project_id if client else DEFAULT_PROJECT_ID
            if client is None:
                account = next(
                    (a for a in self.service_accounts.values() if a.client_id == client_id), None
                )
                project_id = account.project_id if account else project_id
            return self.projects[project_id]

    def project(self, project_id: str) -> Project | None:
        with self.lock:
            found = self.projects.get(project_id)
            if found is None:  # also by number, as Google accepts either
                found = next(
                    (p for p in self.projects.values() if str(p.number) == project_id), None
                )
            return found

    def api_key_project(self, key: str) -> Project | None:
        with self.lock:
            project_id = self.api_keys.get(key)
            return self.projects.get(project_id) if project_id else None

    def count(self, name: str) -> None:
        with self.lock:
            self.counters[name] += 1

    # -- lifecycle ----------------------------------------------------------------------------

    def reset(self, *, save: bool = True) -> None:
        """Back to the stable defaults: one client, one project, one test user, no grants."""
        with self.lock:
            self.clock_offset = 0.0
            self.publishing_status = "testing"
            #: A new app is unverified: Testing users see "Google hasn't verified this app" first.
            self.app_verified = False
            self.users: dict[str, User] = {
                DEFAULT_USER: User(DEFAULT_USER, True, user_sub(DEFAULT_USER))
            }
            self.projects: dict[str, Project] = {
                DEFAULT_PROJECT_ID: Project(
                    DEFAULT_PROJECT_ID, DEFAULT_PROJECT_NUMBER, True, {DEFAULT_USER}
                )
            }
            self.clients: dict[str, Client] = {
                DEFAULT_CLIENT_ID: Client(
                    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PROJECT_ID
                )
            }
            self.api_keys: dict[str, str] = {DEFAULT_API_KEY: DEFAULT_PROJECT_ID}
            self.service_accounts: dict[str, ServiceAccount] = {}
            self.add_service_account(DEFAULT_SERVICE_ACCOUNT, DEFAULT_PROJECT_ID)
            self.metadata_account = DEFAULT_SERVICE_ACCOUNT  # the instance's default account
            self.metadata_scopes: list[str] = [CLOUD_PLATFORM]
            self.grants: dict[str, Grant] = {}
            self.refresh_tokens: dict[str, str] = {}  # refresh token -> grant id
            self.access_tokens: dict[str, AccessTokenInfo] = {}
            self.codes: dict[str, AuthCode] = {}
            self.consents: dict[str, ConsentRequest] = {}
            self.faults: list[Fault] = []
            self.files.clear()
            self.buckets.clear()
            self.cached_contents: dict[str, CachedContent] = {}
            self.counters: Counter[str] = Counter({name: 0 for name in OAUTH_COUNTERS})
            if save:
                self.changed()

    def changed(self) -> None:
        """Persist after a mutation (no-op without a path)."""
        if self.path is None:
            return
        with self.lock:
            data = json.dumps(self._snapshot(), indent=1, sort_keys=True)
            write_private(self.path, data)

    # -- grants and tokens --------------------------------------------------------------------

    def create_grant(self, client_id: str, email: str, scopes: frozenset[str]) -> Grant:
        """A new consented grant; in Testing status its refresh token lives 7 days.

        Past REFRESH_TOKEN_LIMIT live refresh tokens for this client and user, the oldest is
        invalidated without a word, as Google does (its access tokens live on until they expire).
        """
        with self.lock:
            now = self.now()
            identity_only = scopes <= IDENTITY_SCOPES
            expires = (
                now + TESTING_REFRESH_LIFETIME
                if self.publishing_status == "testing" and not identity_only
                else None
            )
            grant = Grant(
                random_token("g-", 12),
                client_id,
                email,
                scopes,
                now,
                random_token("1//emu."),
                expires,
            )
            self.grants[grant.id] = grant
            self.refresh_tokens[grant.refresh_token] = grant.id
            live = [  # oldest first: the dict keeps the order grants were made in
                g
                for g in self.grants.values()
                if (g.client_id, g.email) == (client_id, email) and self.live_grant(g.refresh_token)
            ]
            for oldest in live[: max(0, len(live) - REFRESH_TOKEN_LIMIT)]:
                oldest.revoked = True
            return grant

    def mint_access_token(self, grant: Grant, scopes: frozenset[str] | None = None) -> str:
        with self.lock:
            token = random_token("ya29.emu.")
            self.access_tokens[token] = AccessTokenInfo(
                grant.client_id,
                grant.email,
                scopes if scopes is not None else grant.scopes,
                self.now() + ACCESS_TOKEN_LIFETIME,
                False,
                grant.id,
            )
            return token

    # -- service accounts ---------------------------------------------------------------------

    def add_service_account(self, email: str, project_id: str) -> ServiceAccount:
        """The account ``email`` (created in ``project_id`` if new), a member of its project."""
        with self.lock:
            account = self.service_accounts.get(email)
            if account is None:
                account = ServiceAccount(email, project_id, user_sub(email))
                self.service_accounts[email] = account
            self.projects[account.project_id].members.add(email)
            return account

    def mint_service_account_token(self, account: ServiceAccount, scopes: frozenset[str]) -> str:
        """An access token for ``account``; revoking it revokes only itself."""
        with self.lock:
            token = random_token("ya29.emu.")
            self.access_tokens[token] = AccessTokenInfo(
                account.client_id,
                account.email,
                scopes,
                self.now() + ACCESS_TOKEN_LIFETIME,
                False,
                random_token("sa-", 12),
            )
            return token

    def _self_signed(self, token: str) -> AccessTokenInfo | None:
        """A JWT signed by a service account's key, for the Gemini API (aud) or with ``scope``."""
        from gemini_oauth.emulator import _jwt_grant  # cryptography, only once a JWT comes

        try:
            jwt = _jwt_grant.parse(token)
            account = self.service_accounts.get(str(jwt.claims.get("iss")))
            _jwt_grant.verify_signature(jwt, account.keys if account else None)
            expires_at = _jwt_grant.lifetime(jwt.claims, self.now())
        except _jwt_grant.JwtRefused:
            return None
        assert account is not None  # verify_signature refuses an unknown account
        scope = jwt.claims.get("scope")
        if isinstance(scope, str) and scope.strip():
            scopes = frozenset(scope.split())
        elif jwt.claims.get("aud") in _jwt_grant.GEMINI_AUDIENCES:
            scopes = frozenset({CLOUD_PLATFORM})  # the audience grants the whole API
        else:
            return None
        if jwt.claims.get("sub", account.email) != account.email:
            return None  # domain-wide delegation never works with self-signed JWTs
        return AccessTokenInfo(account.client_id, account.email, scopes, expires_at)

    def live_grant(self, refresh_token: str) -> Grant | None:
        """The grant of a refresh token that is neither revoked nor expired."""
        with self.lock:
            grant = self.grants.get(self.refresh_tokens.get(refresh_token, ""))
            if grant is None or grant.revoked:
                return None
            if grant.refresh_expires_at is not None and self.now() >= grant.refresh_expires_at:
                return None
            return grant

    def needs_reauth(self, grant: Grant) -> bool:
        """Workspace session control: the user's last sign-in for this Cloud Platform grant is
        older than the organisation allows (Google answers ``invalid_rapt``)."""
        with self.lock:
            user = self.users.get(grant.email)
            limit = user.reauth_after if user is not None else None
            return (
                limit is not None
                and CLOUD_PLATFORM in grant.scopes
                and self.now() - grant.issued_at >= limit
            )

    def revoke_grant(self, grant_id: str) -> None:
        """Revoke a grant: its refresh token and every access token minted from it."""
        with self.lock:
            grant = self.grants.get(grant_id)
            if grant is not None:
                grant.revoked = True
            for info in self.access_tokens.values():
                if info.grant_id == grant_id:
                    info.revoked = True

    def revoke_access(self, grant_id: str) -> None:
        """What Google's revocation endpoint does: the account's access to the client ends whole,
        every refresh token of that account and client with it (not only the one presented)."""
        with self.lock:
            grant = self.grants.get(grant_id)
            if grant is None:  # a service account's token: only itself
                self.revoke_grant(grant_id)
                return
            pair = (grant.client_id, grant.email)
            for other in self.grants.values():
                if (other.client_id, other.email) == pair:
                    self.revoke_grant(other.id)

    def summary(self) -> dict[str, Any]:
        """A JSON summary without secrets."""
        with self.lock:
            now = self.now()
            return {
                "publishing_status": self.publishing_status,
                "verified": self.app_verified,
                "clock_offset": self.clock_offset,
                "now": now,
                "users": sorted(self.users),
                "service_accounts": sorted(self.service_accounts),
                "metadata_account": self.metadata_account,
                "projects": sorted(self.projects),
                "clients": len(self.clients),
                "grants": len(self.grants),
                "live_grants": sum(1 for g in self.grants.values() if not g.revoked),
                "access_tokens": len(self.access_tokens),
                "live_access_tokens": sum(
                    1 for t in self.access_tokens.values() if not t.revoked and t.expires_at > now
                ),
                "pending_consents": len(self.consents),
                "faults": len(self.faults),
                "files": len(self.files.files),
                "uploads": len(self.files.uploads),
                "cached_contents": len(self.cached_contents),
                "persistent": self.path is not None,
            }

    # -- persistence --------------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        def plain(obj: Any) -> Any:
            data = asdict(obj)
            for key, value in data.items():
                if isinstance(value, (set, frozenset)):
                    data[key] = sorted(value)
            return data

        return {
            "version": 1,
            "clock_offset": self.clock_offset,
            "publishing_status": self.publishing_status,
            "verified": self.app_verified,
            "users": [plain(u) for u in self.users.values()],
            "projects": [plain(p) for p in self.projects.values()],
            "clients": [plain(c) for c in self.clients.values()],
            "api_keys": self.api_keys,
            "service_accounts": [plain(a) for a in self.service_accounts.values()],
            "metadata": {"account": self.metadata_account, "scopes": self.metadata_scopes},
            "grants": [plain(g) for g in self.grants.values()],
            "access_tokens": {t: plain(i) for t, i in self.access_tokens.items()},
        }

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not an emulator state")
        self.clock_offset = float(data.get("clock_offset", 0.0))
        self.publishing_status = data.get("publishing_status", "testing")
        self.app_verified = bool(data.get("verified", False))
        self.users.update({u["email"]: User(**u) for u in data.get("users", [])})
        for p in data.get("projects", []):
            self.projects[p["id"]] = Project(
                p["id"], p["number"], p["api_enabled"], set(p["members"])
            )
        self.clients.update({c["client_id"]: Client(**c) for c in data.get("clients", [])})
        self.api_keys.update(data.get("api_keys", {}))
        for a in data.get("service_accounts", []):
            self.service_accounts[a["email"]] = ServiceAccount(**a)
        metadata = data.get("metadata", {})
        self.metadata_account = metadata.get("account", self.metadata_account)
        self.metadata_scopes = list(metadata.get("scopes", self.metadata_scopes))
        for g in data.get("grants", []):
            grant = Grant(**{**g, "scopes": frozenset(g["scopes"])})
            self.grants[grant.id] = grant
            self.refresh_tokens[grant.refresh_token] = grant.id
        for token, i in data.get("access_tokens", {}).items():
            self.access_tokens[token] = AccessTokenInfo(**{**i, "scopes": frozenset(i["scopes"])})


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, 0600, creating a 0700 parent if needed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600, any umask
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
