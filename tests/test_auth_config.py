"""``[auth]`` is declared once as typed models (hub/engine/config_auth.py): every wrong key or
value is an error with its file:line, a suggestion for a typo, and no secret in the message;
what needs the environment (a variable, a file) is checked by ``load_auth`` at the key's line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.access.auth import load_auth
from hub.access.policy import QueryLimits
from hub.engine.config import ConfigError, config_json_schema, load_config

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
HASH = "0" * 62 + "aa"


def problems(tmp_path: Path, text: str, *, auth: bool = False) -> list[str]:
    """The problems of a hub.toml with ``text``, as listed (from load_auth when ``auth``)."""
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config = load_config(path)
        if auth:
            load_auth(config, create_dev_secret=False)
    return [line.strip() for line in str(info.value).splitlines()[1:]]


def test_every_wrong_key_and_value_is_listed_with_its_line(tmp_path: Path) -> None:
    text = """\
[hub]
demo = false

[auth]
secrets = "x"
jwks = "http://idp.example.go.id/certs"
issuer = []
anonymous_role = "caseworker"
purposes = []
suppression_k = 1
role_claim = "realm_access..roles"
leeway_seconds = true

[auth.limits]
max_dept = 3
max_depth = "deep"
request_timeout_seconds = 0

[[auth.api_keys]]
id = "portal"
sha256 = "tppo_the-key-itself"
role = "root"
agency = "a b"
purpose = "\\u0007"
"""
    assert problems(tmp_path, text) == [
        "- hub.toml:5: [auth].secrets: unknown setting (did you mean 'secret'?)",
        "- hub.toml:6: [auth].jwks: a JWKS URL must use https (http only for localhost)",
        "- hub.toml:7: [auth].issuer: must be an issuer or a non-empty list of issuers",
        "- hub.toml:8: [auth].anonymous_role: must be 'public' or 'analyst' (never a personal-data role)",
        "- hub.toml:9: [auth].purposes: List should have at least 1 item after validation, not 0",
        "- hub.toml:10: [auth].suppression_k: Input should be greater than or equal to 2",
        "- hub.toml:11: [auth].role_claim: must be a dotted claim path such as 'role' or "
        "'realm_access.roles'",
        "- hub.toml:12: [auth].leeway_seconds: Input should be a valid number",
        "- hub.toml:15: [auth].limits.max_dept: unknown setting (did you mean 'max_depth'?)",
        "- hub.toml:16: [auth].limits.max_depth: Input should be a valid integer",
        "- hub.toml:17: [auth].limits.request_timeout_seconds: Input should be greater than or equal to 0.1",
        "- hub.toml:21: [auth].api_keys[0].sha256: must be 64 hex digits: the key's SHA-256 hash, never "
        "the key (`tppo-hub apikey`)",
        "- hub.toml:22: [auth].api_keys[0].role: Input should be 'public', 'analyst', 'caseworker', "
        "'coordinator' or 'admin'",
        "- hub.toml:23: [auth].api_keys[0].agency: must be an agency code such as POLRI",
        "- hub.toml:24: [auth].api_keys[0].purpose: must be a short printable text (at most 200 characters)",
    ]


def test_a_short_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    found = problems(tmp_path, '[auth]\nsecret = "short-but-secret"\njwks = "ftp://x/y"\n')
    assert found == [
        "- hub.toml:2: [auth].secret: the HS256 secret must be at least 32 bytes",
        "- hub.toml:3: [auth].jwks: unsupported URL scheme 'ftp' (a file path or an https URL)",
    ]
    assert not any("short-but-secret" in p for p in found)


def test_one_secret_at_most(tmp_path: Path) -> None:
    assert problems(tmp_path, f'[auth]\nsecret = "{SECRET}"\nsecret_env = "TPPO_SECRET"\n') == [
        "- hub.toml:1: [auth]: give at most one of secret, secret_env, secret_file "
        "(given: secret, secret_env)"
    ]


def test_api_keys_are_distinct(tmp_path: Path) -> None:
    key = '[[auth.api_keys]]\nid = "{id}"\nsha256 = "{sha}"\nrole = "analyst"\n'
    same_id = key.format(id="a", sha=HASH) + key.format(id="a", sha="1" * 64)
    assert problems(tmp_path, same_id) == ["- hub.toml:1: [auth].api_keys: duplicate id 'a'"]
    # The same hash in another case is the same key.
    same_hash = key.format(id="a", sha=HASH) + key.format(id="b", sha=HASH.upper())
    assert problems(tmp_path, same_hash) == [
        "- hub.toml:1: [auth].api_keys: the same key hash is configured twice ('a')"
    ]


def test_limits_that_can_never_be_met_together(tmp_path: Path) -> None:
    assert problems(tmp_path, "[auth.limits]\nmax_work = 6000\n") == [
        "- hub.toml:1: [auth].limits: max_work must not exceed work_burst × anonymous_share "
        "(such a request could never run)"
    ]


def test_what_needs_the_environment_is_reported_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TPPO_TEST_UNSET", raising=False)
    assert problems(tmp_path, '[hub]\ndemo = true\n[auth]\nsecret_env = "TPPO_TEST_UNSET"\n', auth=True) == [
        "- hub.toml:4: [auth].secret_env: environment variable TPPO_TEST_UNSET is not set"
    ]
    monkeypatch.setenv("TPPO_TEST_SHORT", "too-short")
    assert problems(tmp_path, '[auth]\nsecret_env = "TPPO_TEST_SHORT"\n', auth=True) == [
        "- hub.toml:2: [auth].secret_env: the HS256 secret in environment variable TPPO_TEST_SHORT must "
        "be at least 32 bytes"
    ]
    assert problems(tmp_path, '[auth]\n\nsecret_file = "missing.txt"\n', auth=True) == [
        f"- hub.toml:3: [auth].secret_file: cannot read {tmp_path / 'missing.txt'}"
    ]
    assert problems(tmp_path, '[auth]\njwks = "keys/jwks.json"\n', auth=True) == [
        f"- hub.toml:2: [auth].jwks: file not found: {tmp_path / 'keys' / 'jwks.json'}"
    ]


def test_a_valid_section_reads_every_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TPPO_TEST_SECRET", SECRET)
    (tmp_path / "jwks.json").write_text('{"keys": []}')
    path = tmp_path / "hub.toml"
    path.write_text(
        f"""\
[auth]
secret_env = "TPPO_TEST_SECRET"
jwks = "jwks.json"
jwks_refresh_seconds = 60
audience = "hub-a"
issuer = ["sso", "tppo-hub"]
leeway_seconds = 5
max_token_lifetime_seconds = 3600
role_claim = "realm_access.roles"
purposes = ["investigation"]
suppression_k = 5

[auth.limits]
max_depth = 8
introspection = false

[[auth.api_keys]]
id = "portal"
sha256 = "{HASH.upper()}"
role = "analyst"
agency = "kemenpppa"
""",
        encoding="utf-8",
    )
    settings = load_auth(load_config(path))
    assert settings.secret == SECRET and settings.jwks == str(tmp_path / "jwks.json")
    assert (settings.jwks_refresh_seconds, settings.audience, settings.issuer) == (
        60,
        "hub-a",
        ("sso", "tppo-hub"),
    )
    assert (settings.leeway_seconds, settings.max_token_lifetime_seconds) == (5, 3600)
    assert (settings.role_claim, settings.agency_claim, settings.purposes) == (
        "realm_access.roles",
        "agency",
        frozenset({"investigation"}),
    )
    (key,) = settings.api_keys
    assert (key.id, key.sha256, key.role, key.agency) == ("portal", HASH, "analyst", "KEMENPPPA")
    assert settings.access.suppression_k == 5
    assert settings.access.limits == QueryLimits(max_depth=8, introspection=False)


def test_the_editor_schema_covers_every_auth_key() -> None:
    schema = config_json_schema()
    auth = schema["$defs"]["AuthSection"]
    assert auth["additionalProperties"] is False
    described = {name for name, spec in auth["properties"].items() if spec.get("description")}
    assert described == set(auth["properties"])
    for nested in ("ApiKeyEntry", "LimitsSection"):
        spec = schema["$defs"][nested]
        assert spec["additionalProperties"] is False
        assert all(p.get("description") for p in spec["properties"].values()), nested
    assert schema["$defs"]["ApiKeyEntry"]["properties"]["role"]["enum"] == [
        "public",
        "analyst",
        "caseworker",
        "coordinator",
        "admin",
    ]
    # The secret is marked write-only for editors; the committed file is the same schema.
    assert auth["properties"]["secret"]["anyOf"][0]["writeOnly"] is True
    committed = json.loads(Path("docs/hub.schema.json").read_text(encoding="utf-8"))
    assert committed["$defs"]["AuthSection"] == auth
