"""RS256 keys through PyJWT's PyJWKClient (hub/access/jwks.py): from a file or a URL served
here on the loopback, key rotation within the refresh interval, no fetch per made-up key id,
the last good keys kept through an outage, and a clear 503 when no key set was ever had."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from hub.access.jwks import JwksUnavailable, KeySet
from hub.engine.config import parse_config
from hub.server.app import create_app
from tests.jwks_server import Served

KEYS = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in ("k1", "k2")}


def jwk(kid: str, **extra: Any) -> dict[str, Any]:
    data = json.loads(RSAAlgorithm.to_jwk(KEYS[kid].public_key()))
    return {**data, "kid": kid, "use": "sig", "alg": "RS256", **extra}


def public_numbers(key: Any) -> Any:
    return key.public_numbers()


@pytest.fixture
def served() -> Iterator[Served]:
    endpoint = Served([jwk("k1")])
    try:
        yield endpoint
    finally:
        endpoint.stop()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (the port was just free)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/certs"


async def test_keys_from_a_file_and_a_rotation_seen_after_a_refresh(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk("k1")]}))
    eager, patient = KeySet(str(path), refresh_seconds=0), KeySet(str(path), refresh_seconds=3600)
    assert await eager.load() and await patient.load()
    for keys in (eager, patient):
        assert public_numbers(await keys.key("k1")) == public_numbers(KEYS["k1"].public_key())
    path.write_text(json.dumps({"keys": [jwk("k1"), jwk("k2")]}))  # the identity provider rotates
    assert public_numbers(await eager.key("k2")) == public_numbers(KEYS["k2"].public_key())
    # Within its refresh interval a key set is not read again for an unknown key id.
    assert await patient.key("k2") is None


async def test_a_made_up_key_id_does_not_refetch_within_the_interval(served: Served) -> None:
    keys = KeySet(served.url, refresh_seconds=3600)
    assert await keys.load() and served.fetches == 1
    for n in range(5):
        assert await keys.key(f"made-up-{n}") is None
    assert served.fetches == 1
    assert await keys.key("k1") is not None and served.fetches == 1


async def test_a_rotated_key_is_fetched_when_the_interval_allows(served: Served) -> None:
    keys = KeySet(served.url, refresh_seconds=0)
    assert await keys.load()
    served.document["keys"].append(jwk("k2"))
    assert public_numbers(await keys.key("k2")) == public_numbers(KEYS["k2"].public_key())
    assert served.fetches == 2


async def test_the_last_good_keys_are_kept_through_an_outage(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    keys = KeySet(served.url, refresh_seconds=0)
    assert await keys.load()
    served.stop()
    with caplog.at_level(logging.WARNING, logger="tppo_hub.auth"):
        keys.client.get_jwk_set(refresh=True)  # a refresh during the outage
        assert await keys.key("k1") is not None
        assert await keys.key("k2") is None
    assert any(
        "could not be refreshed" in r.getMessage() and served.url in r.getMessage() for r in caplog.records
    )


async def test_only_rs256_signature_keys_count(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk("k1", use="enc"), {**jwk("k2"), "kid": None}]}))
    keys = KeySet(str(path), refresh_seconds=3600)
    assert await keys.load()
    assert await keys.key("k1") is None  # an encryption key never verifies a signature
    # A token without kid: the one RS256 signature key of the set.
    assert public_numbers(await keys.key(None)) == public_numbers(KEYS["k2"].public_key())


async def test_an_unreachable_jwks_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    url = closed_port_url()
    keys = KeySet(url, refresh_seconds=0)
    with caplog.at_level(logging.ERROR, logger="tppo_hub.auth"):
        assert await keys.load() is False
    assert any(f"JWKS {url} could not be loaded" in r.getMessage() for r in caplog.records)
    with pytest.raises(JwksUnavailable, match=r"signing keys \(JWKS\) cannot be fetched"):
        await keys.key("k1")


async def test_an_rs256_token_while_the_jwks_is_unreachable_is_503(tmp_path: Path) -> None:
    config = parse_config({"sources": [], "auth": {"jwks": closed_port_url()}}, tmp_path)
    app = create_app(config)
    token = jwt.encode(
        {
            "sub": "bob",
            "role": "analyst",
            "aud": "tppo-hub",
            "iss": "tppo-hub",
            "exp": 2_000_000_000,
            "iat": 1_999_999_000,
        },
        KEYS["k1"],
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            response = await http.post(
                "/graphql",
                json={"query": "{ whoami { role } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
    assert response.status_code == 503
    assert response.json() == {
        "errors": [
            {
                "message": "the identity provider's signing keys (JWKS) cannot be fetched; try again later",
                "extensions": {"code": "SERVICE_UNAVAILABLE"},
            }
        ]
    }
