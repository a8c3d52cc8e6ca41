"""Where Application Default Credentials come from, and ``adc status``: without refreshing.

Google's libraries look at $GOOGLE_APPLICATION_CREDENTIALS's file (a user's ADC, a
service-account key), then gcloud's ADC file, then the metadata server; ``find_source`` says
which of them answers, ``adc_status`` describes the ADC file beside it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gemini_oauth._adc import _no_quota_note, _transport, adc_path, override_path, read_adc
from gemini_oauth._constants import CREDENTIALS_ENV
from gemini_oauth.errors import AdcError


@dataclass
class AdcStatus:
    """What ``adc status`` shows: the file, whose it is, and what would override it."""

    path: str
    exists: bool
    type: str | None = None
    account: str | None = None
    client_id: str | None = None
    quota_project_id: str | None = None
    overridden_by: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: What Google's libraries would use: $GOOGLE_APPLICATION_CREDENTIALS's file (a user's ADC,
    #: a service-account key), this file, or the metadata server; None: nothing (exit 3).
    source: AdcSource | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def adc_status(
    path: Path | None = None, env: Mapping[str, str] | None = None, *, probe_metadata: bool = True
) -> AdcStatus:
    """Describe the ADC file, and the source libraries would use, without refreshing anything
    (the metadata server is asked whether it is there when no file is found)."""
    env = os.environ if env is None else env
    path = path or adc_path(env=env)
    status = AdcStatus(path=str(path), exists=path.is_file())
    other = override_path(env, path)
    if other is not None:
        status.overridden_by = str(other)
        if other.is_file():
            status.warnings.append(f"{CREDENTIALS_ENV} points at {other}; libraries use that file.")
        else:
            status.warnings.append(
                f"{CREDENTIALS_ENV} names {other}, which does not exist: Google's libraries "
                f"fail until it is fixed or unset."
            )
    status.source = find_source(
        env
        if other is not None or path == adc_path(env=env)
        else {**env, CREDENTIALS_ENV: str(path)},
        probe_metadata=probe_metadata,
    )
    if not status.exists:
        return status
    info = read_adc(path)
    status.type = info.get("type")
    status.account = info.get("account") or info.get("client_email") or None
    status.client_id = info.get("client_id")
    status.quota_project_id = info.get("quota_project_id")
    if status.type == "authorized_user" and not status.quota_project_id and other is None:
        status.warnings.append(_no_quota_note(status.client_id or ""))
    return status


@dataclass(frozen=True)
class AdcSource:
    """Where Application Default Credentials come from, as Google's libraries look for them."""

    kind: str  # "GOOGLE_APPLICATION_CREDENTIALS", "gcloud ADC file" or "metadata server"
    path: str | None
    type: str | None
    account: str | None
    project_id: str | None = None
    quota_project_id: str | None = None

    def describe(self) -> str:
        """One line: which source, which file, whose."""
        where = f" {self.path}" if self.path else ""
        who = f", {self.account}" if self.account else ""
        kinds = {"service_account": "service-account key", "authorized_user": "user credentials"}
        kind = kinds.get(self.type or "", self.type or "credentials")
        if self.kind == "metadata server":
            return f"the metadata server ({where.strip() or 'this machine'}{who})"
        via = f" via ${CREDENTIALS_ENV}" if self.kind == CREDENTIALS_ENV else ""
        return f"{kind}{where}{via}{who}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_source(
    env: Mapping[str, str] | None = None, *, probe_metadata: bool = True
) -> AdcSource | None:
    """The ADC source Google's libraries would use, without refreshing anything: the file of
    $GOOGLE_APPLICATION_CREDENTIALS, else gcloud's ADC file, else the metadata server (asked
    with a short timeout unless ``probe_metadata`` is False or NO_GCE_CHECK is set)."""
    env = os.environ if env is None else env
    explicit = env.get(CREDENTIALS_ENV)
    path = Path(explicit) if explicit else adc_path(env=env)
    if path.is_file():
        try:
            info = read_adc(path)
        except AdcError:
            return AdcSource(_kind(explicit), str(path), None, None)
        account = info.get("account") or info.get("client_email") or None
        return AdcSource(
            _kind(explicit),
            str(path),
            str(info.get("type") or "") or None,
            str(account) if account else None,
            project_id=info.get("project_id") or None,
            quota_project_id=info.get("quota_project_id") or None,
        )
    if explicit or not probe_metadata or env.get("NO_GCE_CHECK", "").lower() in ("1", "true"):
        return None
    return _metadata_source(env)


def _kind(explicit: str | None) -> str:
    return CREDENTIALS_ENV if explicit else "gcloud ADC file"


def _metadata_source(env: Mapping[str, str]) -> AdcSource | None:
    """The metadata server, if one answers within a second: its host and default account."""
    from google.auth.compute_engine import _metadata

    request = _transport()
    try:
        if not _metadata.ping(request, timeout=1, retry_count=1):  # type: ignore[no-untyped-call]
            return None
        info = _metadata.get_service_account_info(request)  # type: ignore[no-untyped-call]
    except Exception:  # an answer that is not a metadata server's: no source
        return None
    finally:
        request.close()
    host = env.get("GCE_METADATA_HOST") or env.get("GCE_METADATA_IP") or "169.254.169.254"
    email = info.get("email") if isinstance(info, dict) else None
    return AdcSource("metadata server", host, "compute_engine", email or None)


__all__ = ["AdcSource", "AdcStatus", "adc_status", "find_source"]
