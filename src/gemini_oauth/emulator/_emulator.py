"""``Emulator``: the local Google, served on 127.0.0.1 from a background thread.

Flask (the [emulator] extra) is imported at ``start()``, so that a missing extra is reported there;
httpx when ``control`` is first used.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gemini_oauth.emulator._constants import (
    DEFAULT_API_KEY,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PROJECT_ID,
    DEFAULT_PROJECT_NUMBER,
    DEFAULT_USER,
)
from gemini_oauth.emulator._state import EmulatorState, write_private

if TYPE_CHECKING:
    from gemini_oauth.emulator._control_client import EmulatorControl
    from gemini_oauth.emulator._server import ServerThread


class Emulator:
    """The emulator on ``127.0.0.1:port`` (0: ephemeral), optionally persisted at ``state_path``."""

    client_id = DEFAULT_CLIENT_ID
    client_secret = DEFAULT_CLIENT_SECRET
    project_id = DEFAULT_PROJECT_ID
    project_number = DEFAULT_PROJECT_NUMBER
    user_email = DEFAULT_USER
    api_key = DEFAULT_API_KEY

    def __init__(self, port: int = 0, state_path: Path | str | None = None) -> None:
        self.port = port
        self.state = EmulatorState(state_path)
        self._server: ServerThread | None = None
        self._control: EmulatorControl | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            from gemini_oauth.emulator._control_client import EmulatorControl  # httpx

            self._control = EmulatorControl(self.base_url)
        return self._control

    def start(self) -> Emulator:
        """Bind the socket and serve from a background thread; returns self."""
        if self._server is None:
            from gemini_oauth.emulator._server import ServerThread, create_app

            self._server = ServerThread(create_app(self.state), self.port)
            self._server.start()
        return self

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            self._server.stop()
            self._server = None
            with self.state.lock:
                self.state.files.clear()  # uploaded bytes live only as long as the server

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def client_secret_json(self) -> dict[str, Any]:
        """An ``installed`` (Desktop) client file whose endpoints point at this emulator."""
        base = self.base_url
        return {
            "installed": {
                "client_id": self.client_id,
                "project_id": self.project_id,
                "auth_uri": f"{base}/o/oauth2/auth",
                "token_uri": f"{base}/token",
                "auth_provider_x509_cert_url": f"{base}/oauth2/v1/certs",
                "client_secret": self.client_secret,
                "redirect_uris": ["http://localhost"],
            }
        }

    def write_client_secret(self, path: Path | str) -> Path:
        """Write :meth:`client_secret_json` to ``path`` (0600, atomically); returns the path."""
        target = Path(path)
        write_private(target, json.dumps(self.client_secret_json(), indent=2) + "\n")
        return target
