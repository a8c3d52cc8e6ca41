"""The emulator's records, one dataclass each, and the ids they carry (random tokens, ``sub``).

``EmulatorState`` (``_state.py``) holds them; handlers change them under its lock.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any


@dataclass
class User:
    email: str
    test_user: bool = True
    sub: str = ""
    #: Workspace session control: grants with Cloud Platform scopes need a sign-in at most this
    #: many seconds old to refresh (else ``invalid_grant``/``invalid_rapt``); None: no limit.
    reauth_after: float | None = None


@dataclass
class Project:
    id: str
    number: int
    api_enabled: bool = True
    members: set[str] = field(default_factory=set)  # emails allowed serviceusage.services.use


@dataclass
class Client:
    client_id: str
    client_secret: str
    project_id: str
    redirect_uris: list[str] = field(default_factory=lambda: ["http://localhost"])
    deleted: bool = False  # deleted in the console (restorable for 30 days): ``deleted_client``


@dataclass
class ServiceAccount:
    """A service account: a member of its project, with public keys by key id (``kid``)."""

    email: str
    project_id: str
    client_id: str  # the 21-digit unique id
    keys: dict[str, str] = field(default_factory=dict)  # key id -> public key PEM


@dataclass
class AccessTokenInfo:
    client_id: str
    email: str
    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False
    grant_id: str = ""


@dataclass
class Grant:
    """One consent turned into tokens: a refresh token and the access tokens minted from it."""

    id: str
    client_id: str
    email: str
    scopes: frozenset[str]
    issued_at: float
    refresh_token: str
    refresh_expires_at: float | None = None
    revoked: bool = False


@dataclass
class AuthCode:
    client_id: str
    email: str
    scopes: frozenset[str]
    redirect_uri: str
    expires_at: float
    challenge: str | None = None
    challenge_method: str | None = None
    used: bool = False
    grant_id: str | None = None  # the grant first issued from this code


@dataclass
class ConsentRequest:
    """An authorization request waiting on the consent page (single use)."""

    client_id: str
    email: str
    scopes: tuple[str, ...]
    redirect_uri: str
    state: str | None
    challenge: str | None
    challenge_method: str | None
    created_at: float
    #: False while the "Google hasn't verified this app" warning waits for Continue.
    acknowledged: bool = True


@dataclass
class Fault:
    path: str
    status: int | None = None
    count: int | None = 1  # None: every request until cleared
    retry_after: float | None = None
    latency: float = 0.0
    drop: bool = False
    body: dict[str, Any] | None = None
    #: Cut the connection after reading this many bytes of the request body (an upload
    #: interrupted mid-chunk); only the upload route reads bodies this way.
    drop_after: int | None = None


@dataclass
class StoredFile:
    """A Files API file: uploaded (bytes in the emulator's temp dir) or registered (gs://)."""

    id: str
    project_id: str
    display_name: str
    mime_type: str
    size: int
    sha256: str  # hex digest of the content
    created_at: float
    expires_at: float
    active_at: float  # PROCESSING until then, ACTIVE after
    source: str = "UPLOADED"  # or "REGISTERED"
    path: str | None = None  # where an uploaded file's bytes are
    gcs_uri: str | None = None


@dataclass
class Upload:
    """A resumable upload session; its bytes grow in ``path`` as chunks arrive."""

    id: str
    project_id: str
    file_id: str
    display_name: str
    mime_type: str
    size: int  # declared by X-Goog-Upload-Header-Content-Length
    path: str
    created_at: float
    received: int = 0
    hasher: Any = None  # hashlib.sha256 of the bytes received so far
    done: bool = False


@dataclass
class BucketObject:
    """An object of the emulated Cloud Storage."""

    bucket: str
    name: str
    data: bytes
    content_type: str


@dataclass
class Bucket:
    """An emulated bucket: its project, and whether the Gemini service agent may read it."""

    name: str
    project_id: str
    service_agent_read: bool = True


@dataclass
class CachedContent:
    """A cachedContents resource: what it holds (as the prompt text and files it stands for)."""

    id: str
    project_id: str
    model: str
    display_name: str
    created_at: float
    updated_at: float
    expires_at: float
    prompt: str  # the text and file digests the cache stands for (replies depend on it)
    token_count: int


def random_token(prefix: str, nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def user_sub(email: str) -> str:
    """A stable numeric subject id for an email (all of it), as Google's 21-digit ``sub``."""
    digest = hashlib.sha256(email.lower().encode()).digest()
    return str(100000000000000000000 + int.from_bytes(digest[:16], "big") % 10**20)
