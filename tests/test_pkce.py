"""PKCE and state (RFC 7636)."""

from __future__ import annotations

import re

from gemini_oauth._pkce import make_state, make_verifier, s256_challenge


def test_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifier_shape_and_freshness() -> None:
    verifiers = {make_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    for v in verifiers:
        assert 43 <= len(v) <= 128 and len(v) == 64
        assert re.fullmatch(r"[A-Za-z0-9\-._~]+", v)
        assert re.fullmatch(r"[A-Za-z0-9\-_]{43}", s256_challenge(v))


def test_state_has_at_least_128_bits() -> None:
    states = {make_state() for _ in range(50)}
    assert len(states) == 50
    assert all(len(s) >= 43 for s in states)  # 32 bytes base64url: 256 bits
