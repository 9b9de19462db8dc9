"""Authentication over HTTP: JWT (HS256, RS256 from a JWKS file or URL), API keys, purposes.

A bad credential is always a 401 with a GraphQL-shaped UNAUTHENTICATED error, before anything
executes — never a silent fall-back to anonymous. Anonymous callers are ``public`` outside
demo mode; a demo hub lets them act as ``analyst`` and says so.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import stat
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from hub.access.auth import DEV_SECRET_FILE, hash_api_key, load_auth, mint_token
from hub.engine.config import parse_config
from hub.server.app import create_app
from hub.server.cli import main as cli
from tests.jwks_server import Served

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
API_KEY = "tppo_test-key-for-the-portal-0123456789"
WHOAMI = "{ whoami { subject role agency purpose demo } }"


def _rsa() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


RSA_KEY = _rsa()
OTHER_RSA_KEY = _rsa()


def jwk(private_key: Any, kid: str) -> dict[str, Any]:
    data = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    return {**data, "kid": kid, "use": "sig", "alg": "RS256"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "alice@kemenpppa",
        "role": "caseworker",
        "agency": "KEMENPPPA",
        "aud": "tppo-hub",
        "iss": "tppo-hub",
        "iat": now,
        "exp": now + 600,
        "jti": "t-1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


def rs256(key: Any = RSA_KEY, kid: str = "k1", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": kid})


def copy_sources(demo_dir: Path, target: Path, names: tuple[str, ...] = ("polri", "lpsk")) -> list[dict]:
    for name in names:
        shutil.copy(demo_dir / f"{name}.sqlite", target / f"{name}.sqlite")
    return [{"name": n, "mapping": n, "url": f"sqlite:///{n}.sqlite"} for n in names]


@pytest.fixture(scope="module")
def auth_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("auth")
    (out / "jwks.json").write_text(json.dumps({"keys": [jwk(RSA_KEY, "k1")]}))
    return out


def auth_config(demo_dir: Path, base: Path, demo: bool = False, **auth: Any) -> Any:
    raw = {
        "hub": {"demo": demo},
        "sources": copy_sources(demo_dir, base),
        "auth": auth,
    }
    return parse_config(raw, base)


@pytest.fixture(scope="module")
async def client(demo_dir: Path, auth_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = auth_config(
        demo_dir,
        auth_dir,
        secret=SECRET,
        jwks="jwks.json",
        purposes=["investigation", "victim services"],
        api_keys=[
            {"id": "portal", "sha256": hash_api_key(API_KEY), "role": "analyst", "agency": "kemenpppa"},
        ],
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            yield http


async def post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers=headers or {})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthenticated(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"errors"}
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return error["message"]


# --- who is asking -----------------------------------------------------------------------------


async def test_anonymous_is_public_outside_demo_mode(client: httpx.AsyncClient) -> None:
    response = await post(client, WHOAMI)
    assert response.status_code == 200
    assert response.json()["data"]["whoami"] == {
        "subject": "anonymous",
        "role": "public",
        "agency": None,
        "purpose": None,
        "demo": False,
    }
    forbidden = (await post(client, "{ cases(first: 1) { totalCount } }")).json()
    assert forbidden["data"] is None
    assert forbidden["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": "cases"}


async def test_hs256_token_gives_its_principal(client: httpx.AsyncClient) -> None:
    response = await post(client, WHOAMI, bearer(hs256(purpose="investigation")))
    assert response.status_code == 200
    assert response.json()["data"]["whoami"] == {
        "subject": "alice@kemenpppa",
        "role": "caseworker",
        "agency": "KEMENPPPA",
        "purpose": "investigation",
        "demo": False,
    }


async def test_rs256_token_from_the_jwks_file(client: httpx.AsyncClient) -> None:
    response = await post(client, WHOAMI, bearer(rs256(role="coordinator", agency=None, sub="bob")))
    assert response.status_code == 200
    assert response.json()["data"]["whoami"]["role"] == "coordinator"


async def test_api_key(client: httpx.AsyncClient) -> None:
    response = await post(client, WHOAMI, {"X-API-Key": API_KEY, "X-Purpose": "investigation"})
    assert response.json()["data"]["whoami"] == {
        "subject": "api-key:portal",
        "role": "analyst",
        "agency": "KEMENPPPA",
        "purpose": "investigation",
        "demo": False,
    }
    assert_unauthenticated(await post(client, WHOAMI, {"X-API-Key": API_KEY + "x"}))
    assert_unauthenticated(await post(client, WHOAMI, {"X-API-Key": API_KEY, **bearer(hs256())}))


async def test_purpose_from_the_header(client: httpx.AsyncClient) -> None:
    response = await post(client, WHOAMI, {**bearer(hs256()), "X-Purpose": "victim services"})
    assert response.json()["data"]["whoami"]["purpose"] == "victim services"


async def test_purpose_outside_the_configured_list_or_contradicting_the_token(
    client: httpx.AsyncClient,
) -> None:
    for headers in (
        {**bearer(hs256()), "X-Purpose": "curiosity"},
        {**bearer(hs256(purpose="investigation")), "X-Purpose": "victim services"},
    ):
        response = await post(client, WHOAMI, headers)
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    # A validly signed token may still not declare a purpose outside the list.
    refused = await post(client, WHOAMI, bearer(hs256(purpose="curiosity")))
    assert refused.status_code == 400 and "investigation" in refused.json()["errors"][0]["message"]


# --- what is refused ---------------------------------------------------------------------------


def _none_token() -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims(role='admin'))}."


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("expired", lambda: hs256(exp=int(time.time()) - 120)),
        ("not yet valid", lambda: hs256(nbf=int(time.time()) + 600)),
        ("wrong signature", lambda: jwt.encode(claims(), SECRET + "x", algorithm="HS256")),
        ("wrong audience", lambda: hs256(aud="another-hub")),
        ("wrong issuer", lambda: hs256(iss="someone-else")),
        ("alg none", _none_token),
        ("malformed", lambda: "not.a.token"),
        ("garbage", lambda: "%%%"),
        ("no expiry", lambda: hs256(exp=None)),
        ("no subject", lambda: hs256(sub=None)),
        ("unknown role", lambda: hs256(role="superuser")),
        ("no role", lambda: hs256(role=None)),
        ("bad agency", lambda: hs256(agency="x y")),
        ("rs256 unknown kid", lambda: rs256(kid="k9")),
        ("rs256 wrong key", lambda: rs256(key=OTHER_RSA_KEY)),
        ("hs384", lambda: jwt.encode(claims(), SECRET, algorithm="HS384")),
    ],
)
async def test_bad_tokens_are_unauthenticated(client: httpx.AsyncClient, name: str, token: Any) -> None:
    raw = token()
    message = assert_unauthenticated(await post(client, WHOAMI, bearer(raw)))
    assert raw not in message


async def test_rsa_public_key_as_hmac_secret_is_refused(client: httpx.AsyncClient, auth_dir: Path) -> None:
    """The classic algorithm confusion: HS256 signed with the published RSA key."""
    from cryptography.hazmat.primitives import serialization

    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(json.dumps(claims(role="admin")).encode()).decode().rstrip("=")
    import hashlib
    import hmac

    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"
    assert_unauthenticated(await post(client, WHOAMI, bearer(token)))


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token abc"])
async def test_other_authorization_schemes_are_unauthenticated(client: httpx.AsyncClient, value: str) -> None:
    assert_unauthenticated(await post(client, WHOAMI, {"Authorization": value}))


async def test_refusals_log_no_credential(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = hs256(exp=int(time.time()) - 120)
    with caplog.at_level(logging.DEBUG):
        await post(client, WHOAMI, bearer(token))
        await post(client, WHOAMI, {"X-API-Key": API_KEY + "x"})
        await post(client, WHOAMI, bearer(hs256()))
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (token, token.split(".")[1], API_KEY, SECRET, "alice@kemenpppa"):
        assert secret not in text


# --- JWKS over HTTP, with key rotation ---------------------------------------------------------


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, dict[str, Any]]]:
    endpoint = Served([jwk(RSA_KEY, "k1")])
    try:
        yield endpoint.url, endpoint.document
    finally:
        endpoint.stop()


async def test_jwks_url_is_fetched_at_start_and_refreshed_for_a_new_key(
    demo_dir: Path, tmp_path: Path, jwks_server: tuple[str, dict[str, Any]]
) -> None:
    url, served = jwks_server
    config = auth_config(demo_dir, tmp_path, jwks=url, jwks_refresh_seconds=0, issuer=["tppo-hub", "sso"])
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            ok = await post(http, WHOAMI, bearer(rs256(iss="sso")))
            assert ok.json()["data"]["whoami"]["role"] == "caseworker"
            rotated = rs256(key=OTHER_RSA_KEY, kid="k2")
            assert_unauthenticated(await post(http, WHOAMI, bearer(rotated)))
            served["keys"].append(jwk(OTHER_RSA_KEY, "k2"))  # the identity provider rotates
            assert (await post(http, WHOAMI, bearer(rotated))).status_code == 200
            # HS256 is not accepted: this hub has no secret.
            assert_unauthenticated(await post(http, WHOAMI, bearer(hs256())))


# --- configuration -----------------------------------------------------------------------------


# Every error of the [auth] section, with its line: tests/test_auth_config.py.


def test_secret_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TPPO_TEST_SECRET", SECRET)
    settings = load_auth(parse_config({"sources": [], "auth": {"secret_env": "TPPO_TEST_SECRET"}}, tmp_path))
    assert settings.secret == SECRET and "TPPO_TEST_SECRET" in (settings.secret_origin or "")
    (tmp_path / "secret.txt").write_text(SECRET + "\n")
    settings = load_auth(parse_config({"sources": [], "auth": {"secret_file": "secret.txt"}}, tmp_path))
    assert settings.secret == SECRET


def test_anonymous_role_is_ignored_outside_demo_mode(tmp_path: Path) -> None:
    settings = load_auth(parse_config({"sources": [], "auth": {"anonymous_role": "analyst"}}, tmp_path))
    assert settings.anonymous.role == "public"


def test_mint_token_refuses_bad_input(tmp_path: Path) -> None:
    settings = load_auth(parse_config({"sources": [], "auth": {"secret": SECRET}}, tmp_path))
    for kwargs in (
        {"role": "root"},
        {"role": "analyst", "agency": "a b"},
        {"role": "analyst", "ttl_seconds": 0},
    ):
        with pytest.raises(ValueError):
            mint_token(settings, **kwargs)
    no_secret = load_auth(parse_config({"sources": [], "auth": {}}, tmp_path))
    with pytest.raises(ValueError, match="no HS256 secret"):
        mint_token(no_secret, "analyst")


# --- demo mode ---------------------------------------------------------------------------------


async def test_demo_hub_works_out_of_the_box(
    demo_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    config = auth_config(demo_dir, tmp_path, demo=True)
    app = create_app(config)
    with caplog.at_level(logging.INFO):
        async with app.router.lifespan_context(app):
            secret_file = tmp_path / DEV_SECRET_FILE
            assert secret_file.exists()
            assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
            secret = secret_file.read_text().strip()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
                anonymous = await post(http, WHOAMI)
                body = anonymous.json()
                assert body["data"]["whoami"]["role"] == "analyst"
                assert body["data"]["whoami"]["demo"] is True
                assert "analyst" in body["extensions"]["demo"]
                assert anonymous.headers["X-TPPO-Demo-Role"] == "analyst"
                page = await http.get("/graphql", headers={"Accept": "text/html"})
                assert page.status_code == 200 and "graphiql" in page.text.lower()
                # `tppo-hub token` works against the demo configuration as it is.
                (tmp_path / "hub.toml").write_text("[hub]\ndemo = true\n")
                capsys.readouterr()
                assert (
                    cli(
                        [
                            "token",
                            "--config",
                            str(tmp_path / "hub.toml"),
                            "--role",
                            "coordinator",
                            "--purpose",
                            "investigation",
                            "--ttl",
                            "5m",
                        ]
                    )
                    == 0
                )
                token = capsys.readouterr().out.strip()
                minted = await post(http, WHOAMI, bearer(token))
                assert minted.json()["data"]["whoami"]["role"] == "coordinator"
                assert "demo" not in minted.json().get("extensions", {})
                assert_unauthenticated(await post(http, WHOAMI, bearer(hs256())))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("DEMO MODE" in w and DEV_SECRET_FILE in w for w in warnings)
    assert all(secret not in r.getMessage() for r in caplog.records)


async def test_demo_secret_is_stable_across_restarts(demo_dir: Path, tmp_path: Path) -> None:
    first = load_auth(auth_config(demo_dir, tmp_path, demo=True))
    second = load_auth(auth_config(demo_dir, tmp_path, demo=True))
    assert first.secret == second.secret and first.secret_fingerprint == second.secret_fingerprint
