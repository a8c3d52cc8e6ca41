"""HttpxRequest: google-auth's transport interface over httpx, against the emulator."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

import httpx
import pytest
from google.auth import exceptions

from gemini_oauth._transport import HttpxRequest
from gemini_oauth.emulator import Emulator

if TYPE_CHECKING:
    from conftest import HeldWaits


def test_get_and_post(emulator: Emulator) -> None:
    request = HttpxRequest()
    try:
        response = request(emulator.base_url + "/.well-known/openid-configuration")
        assert response.status == 200
        assert response.headers["content-type"].startswith("application/json")
        assert json.loads(response.data)["revocation_endpoint"] == emulator.base_url + "/revoke"
        answer = request(
            emulator.base_url + "/token",
            method="POST",
            body=b"grant_type=refresh_token&refresh_token=nope",
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=5,
        )
        assert answer.status in (400, 401)
        assert b"error" in answer.data
    finally:
        request.close()


def test_given_client_is_used_and_not_closed(emulator: Emulator) -> None:
    with httpx.Client(headers={"x-test": "1"}) as client:
        request = HttpxRequest(client)
        assert request.client is client
        request.close()
        assert request(emulator.base_url + "/.well-known/openid-configuration").status == 200


def test_connection_refused_is_a_transport_error() -> None:
    with socket.socket() as s:  # bound, never listening: refused, and no one else can take it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(exceptions.TransportError, match="ConnectError"):
            HttpxRequest()(f"http://127.0.0.1:{port}/token", method="POST", body=b"x=1")


def test_timeout_is_a_transport_error(emulator: Emulator, held_waits: HeldWaits) -> None:
    emulator.control.add_fault("/token", 200, latency=1.0)  # held until the test ends
    with pytest.raises(exceptions.TransportError, match="Timeout"):
        HttpxRequest()(emulator.base_url + "/token", method="POST", body=b"", timeout=0.2)
    assert held_waits.requested == [1.0] and not held_waits.overran
