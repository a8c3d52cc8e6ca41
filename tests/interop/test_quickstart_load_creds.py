"""The Gemini OAuth quickstart's load_creds.py, verbatim, against the emulator.

Findings this file pins down:

- The first login works against any Google-compatible server: InstalledAppFlow takes
  ``auth_uri``/``token_uri`` from client_secret.json. Only ``OAUTHLIB_INSECURE_TRANSPORT=1`` is
  needed, because the emulator speaks plain HTTP on loopback and oauthlib insists on https.
- Every later refresh goes to https://oauth2.googleapis.com/token whatever token.json says:
  ``Credentials.from_authorized_user_file`` overrides ``token_uri`` (google-auth
  ``from_authorized_user_info``: "always overrides"). So only the first login and one call can be
  tested offline; a refresh cannot reach the emulator.
- token.json is written with ``open('token.json', 'w')``: 0o644 under the usual umask 022, so a
  refresh token is world-readable. gemini-oauth writes 0600 in a 0700 directory.
- A revoked refresh token makes load_creds crash with google.auth.exceptions.RefreshError (no
  fallback to a new login). Shown offline by routing the subprocess's HTTPS to
  oauth2.googleapis.com through a loopback proxy with a throwaway CA (REQUESTS_CA_BUNDLE).
"""

from __future__ import annotations

import datetime
import json
import os
import socketserver
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_oauth.emulator import Emulator

pytestmark = pytest.mark.slow
GOOGLE_TOKEN_HOST = "oauth2.googleapis.com"

#: load_creds.py from ai.google.dev/gemini-api/docs/oauth, character for character.
LOAD_CREDS = '''\
import os.path

from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow

SCOPES = ['https://www.googleapis.com/auth/generative-language.retriever']

def load_creds():
    """Converts `client_secret.json` to a credential object.

    This function caches the generated tokens to minimize the use of the
    consent screen.
    """
    creds = None
    # The file token.json stores the user's access and refresh tokens, and is
    # created automatically when the authorization flow completes for the first
    # time.
    if os.path.exists('token.json'):
        creds = Credentials.from_authorized_user_file('token.json', SCOPES)
    # If there are no (valid) credentials available, let the user log in.
    if not creds or not creds.valid:
        if creds and creds.expired and creds.refresh_token:
            creds.refresh(Request())
        else:
            flow = InstalledAppFlow.from_client_secrets_file(
                'client_secret.json', SCOPES)
            creds = flow.run_local_server(port=0)
        # Save the credentials for the next run
        with open('token.json', 'w') as token:
            token.write(creds.to_json())
    return creds
'''

#: The only change to how a user runs it: umask 022 as on a typical desktop.
RUN = (
    "import os; os.umask(0o022)\n"
    "from load_creds import load_creds\n"
    "c = load_creds()\n"
    "print(c.token is not None)\n"
)


def run_load_creds(
    workdir: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **(extra_env or {}))
    env.update(
        BROWSER=f"{sys.executable} -m gemini_oauth._useragent %s",
        OAUTHLIB_INSECURE_TRANSPORT="1",
        PYTHONPATH=str(workdir),
    )
    return subprocess.run(
        [sys.executable, "-c", RUN],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def workdir(emulator: Emulator, tmp_path: Path) -> Path:
    (tmp_path / "load_creds.py").write_text(LOAD_CREDS)
    emulator.write_client_secret(tmp_path / "client_secret.json")
    return tmp_path


def test_first_login_writes_a_world_readable_token_that_works(
    emulator: Emulator, workdir: Path
) -> None:
    result = run_load_creds(workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("True")
    token_file = workdir / "token.json"
    saved = json.loads(token_file.read_text())
    assert saved["client_id"] == emulator.client_id
    assert saved["scopes"] == ["https://www.googleapis.com/auth/generative-language.retriever"]
    assert saved["refresh_token"] and saved["token"]
    # Failure mode 1: the refresh token is readable by every local user.
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o644

    headers = {
        "Authorization": f"Bearer {saved['token']}",
        "x-goog-user-project": emulator.project_id,
    }
    models = httpx.get(f"{emulator.base_url}/v1/models", headers=headers, timeout=10)
    assert models.status_code == 200, models.text
    assert models.json()["models"]

    # A second run reuses token.json: no new consent.
    before = emulator.control.counters()
    again = run_load_creds(workdir)
    assert again.returncode == 0, again.stderr
    after = emulator.control.counters()
    assert after["token.authorization_code"] == before["token.authorization_code"] == 1

    # The finding: whatever token.json says, google-auth refreshes at Google.
    from google.oauth2.credentials import Credentials

    loaded = Credentials.from_authorized_user_file(str(token_file))
    assert saved["token_uri"].startswith(emulator.base_url)
    assert loaded.token_uri == "https://oauth2.googleapis.com/token"


def expire(token_file: Path, emulator: Emulator) -> None:
    """An hour passes: for the client (token.json's expiry) and for the emulator's clock."""
    data = json.loads(token_file.read_text())
    data["expiry"] = "2000-01-01T00:00:00Z"
    token_file.write_text(json.dumps(data))
    emulator.control.advance_clock(3700)


def test_refresh_then_revoked_refresh_token_crashes_load_creds(
    emulator: Emulator, workdir: Path, google_token_endpoint: dict[str, str]
) -> None:
    """Failure mode 2: a revoked refresh token is an uncaught RefreshError, no new login offered.

    The quickstart refreshes at https://oauth2.googleapis.com/token, so the subprocess reaches
    the emulator through a loopback HTTPS proxy that presents a test CA's certificate for that
    host (``google_token_endpoint``): load_creds.py itself stays unchanged.
    """
    assert run_load_creds(workdir).returncode == 0
    token_file = workdir / "token.json"
    first = json.loads(token_file.read_text())

    expire(token_file, emulator)
    refreshed = run_load_creds(workdir, google_token_endpoint)
    assert refreshed.returncode == 0, refreshed.stderr
    assert emulator.control.counters()["token.refresh_token"] == 1
    second = json.loads(token_file.read_text())
    assert second["token"] != first["token"]
    assert second["refresh_token"] == first["refresh_token"]

    revoke = httpx.post(f"{emulator.base_url}/revoke", data={"token": first["refresh_token"]})
    assert revoke.status_code == 200
    expire(token_file, emulator)
    crashed = run_load_creds(workdir, google_token_endpoint)
    assert crashed.returncode == 1
    assert "google.auth.exceptions.RefreshError" in crashed.stderr
    assert "invalid_grant" in crashed.stderr
    assert emulator.control.counters()["auth"] == 1  # it never offered a new consent
    assert first["refresh_token"] not in crashed.stderr + crashed.stdout


# ------------------------------------------------------------- Google's token URL, rerouted


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for oauth2.googleapis.com signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject: str, key: Any, issuer: Any, issuer_key: Any, ca: bool) -> Any:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
            )
        )
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
            builder = builder.add_extension(usage, critical=True)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), False
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    host_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("gemini-oauth test CA", ca_key, None, ca_key, True)
    host = build(GOOGLE_TOKEN_HOST, host_key, ca.subject, ca_key, False)
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "host.pem", directory / "host.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(host.public_bytes(pem))
    paths[2].write_bytes(
        host_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class _TokenProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: str, tls: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _TunnelHandler)
        self.upstream, self.tls = upstream, tls


class _TunnelHandler(socketserver.StreamRequestHandler):
    """Accept CONNECT to oauth2.googleapis.com:443 only; answer inside TLS from the emulator."""

    server: _TokenProxy

    def _head(self, stream: Any) -> tuple[str, dict[str, str]]:
        first = stream.readline(8192).decode("latin-1").strip()
        headers: dict[str, str] = {}
        for _ in range(100):
            line = stream.readline(8192).decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return first, headers

    def handle(self) -> None:
        self.connection.settimeout(10)
        line, _ = self._head(self.rfile)
        if line.split(" ")[:2] != ["CONNECT", f"{GOOGLE_TOKEN_HOST}:443"]:
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        with self.server.tls.wrap_socket(self.connection, server_side=True) as tls:
            stream = tls.makefile("rb")
            request, headers = self._head(stream)
            method, path, _ = request.split(" ", 2)
            body = stream.read(int(headers.get("content-length", "0")))
            answer = httpx.request(
                method,
                self.server.upstream + path,
                content=body,
                headers={"content-type": headers.get("content-type", "")},
                timeout=10,
            )
            head = (
                f"HTTP/1.1 {answer.status_code} {answer.reason_phrase}\r\n"
                f"Content-Type: {answer.headers.get('content-type', 'application/json')}\r\n"
                f"Content-Length: {len(answer.content)}\r\nConnection: close\r\n\r\n"
            )
            tls.sendall(head.encode() + answer.content)


@pytest.fixture
def google_token_endpoint(emulator: Emulator, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment that sends the subprocess's https://oauth2.googleapis.com to the emulator."""
    ca, cert, key = _certificates(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    proxy = _TokenProxy(emulator.base_url, tls)
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    address = f"http://127.0.0.1:{proxy.server_address[1]}"
    try:
        yield {
            "HTTPS_PROXY": address,
            "https_proxy": address,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "REQUESTS_CA_BUNDLE": str(ca),
        }
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=5)
