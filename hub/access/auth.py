"""Authentication: who is asking, from a JWT or an API key, checked before anything executes.

Configuration (``[auth]`` of the hub configuration; every key optional)::

    [auth]
    secret_env = "TPPO_HUB_JWT_SECRET"   # HS256 secret from the environment (or secret_file = …,
                                         # or secret = "…" inline: development only)
    jwks = "https://sso.example.go.id/certs"   # RS256 public keys: a JWKS file path or https URL
    audience = "tppo-hub"                # checked `aud` (default "tppo-hub")
    issuer = "tppo-hub"                  # checked `iss` (string or list; default "tppo-hub")
    leeway_seconds = 30                  # clock skew allowed on exp / nbf
    max_token_lifetime_seconds = 86400   # tokens valid for longer (exp − iat, or exp − now) are refused
    role_claim = "role"                  # dotted paths into the claims (e.g. "realm_access.roles")
    agency_claim = "agency"
    purpose_claim = "purpose"
    purposes = ["investigation", "victim_services"]   # optional list of allowed purposes
    anonymous_role = "analyst"           # demo hubs only: what anonymous callers act as
    suppression_k = 11                   # statistics: minimum cell size below coordinator

    [[auth.api_keys]]                    # API keys, stored as SHA-256 hashes only
    id = "portal-kemenpppa"
    sha256 = "…64 hex…"                  # `tppo-hub apikey` prints a new key and its hash
    role = "analyst"
    agency = "KEMENPPPA"

    [auth.limits]                        # query safety (see hub.access.policy.QueryLimits)
    max_depth = 12
    max_cost = 250000
    request_timeout_seconds = 30
    introspection = true

Requests carry ``Authorization: Bearer <JWT>`` or ``X-API-Key: <key>``, and optionally
``X-Purpose: <purpose>`` (or a ``purpose`` claim); each at most once (a repeated credential
header is HTTP 400: which one counts would be the proxy's guess). A token must not be valid
for longer than ``max_token_lifetime_seconds``, and a token of a role whose reads or changes
are audited (caseworker, coordinator, admin) must carry a ``jti``, which the audit records.
Expired, malformed or wrongly signed credentials are refused with HTTP 401 and a
GraphQL-shaped ``UNAUTHENTICATED`` error: a bad credential is never downgraded to anonymous.
Callers without credentials are ``public`` — or, on a demo hub only, the ``anonymous_role``
(default ``analyst``), and every response says so.

A demo hub without signing keys gets a development secret generated once into
``.tppo-hub-dev-secret`` beside its configuration, so ``tppo-hub token`` works out of the box.
No secret, token or key is ever logged; only a fingerprint of the secret is.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
import os
import re
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import jwt

from hub.access.policy import (
    DEFAULT_K,
    PUBLIC,
    ROLES,
    AccessSettings,
    Principal,
    QueryLimits,
)
from hub.engine.config import ConfigError, HubConfig

log = logging.getLogger("tppo_hub.auth")

#: File beside a demo configuration holding its generated development secret.
DEV_SECRET_FILE = ".tppo-hub-dev-secret"
#: Where the ASGI middleware leaves the authenticated principal in the request scope.
DEFAULT_AUDIENCE = "tppo-hub"
DEFAULT_ISSUER = "tppo-hub"
#: RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_SECRET_BYTES = 32
MAX_PURPOSE_LENGTH = 200
_AGENCY = re.compile(r"^[A-Z][A-Z0-9_-]{0,39}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")
_JWKS_MAX_BYTES = 1_000_000
#: Default of ``[auth].max_token_lifetime_seconds``: one day.
DEFAULT_MAX_TOKEN_LIFETIME = 86_400
#: Roles whose tokens must carry a ``jti``: the audit chain names the token of every personal
#: read (caseworker, coordinator) and of every source registration or approval (admin).
AUDITED_ROLES = frozenset({"caseworker", "coordinator", "admin"})
#: Request headers that carry a credential or its purpose: each may appear at most once.
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-purpose")


class AuthError(Exception):
    """A request refused before execution: HTTP status, GraphQL error code and a safe message."""

    def __init__(self, message: str, code: str = "UNAUTHENTICATED", status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A configured API key: its SHA-256 hash and the principal it stands for."""

    id: str
    sha256: str
    role: str
    agency: str | None = None
    subject: str | None = None
    purpose: str | None = None


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """The checked ``[auth]`` section."""

    demo: bool = False
    secret: str | None = None
    #: Where the secret came from, for the start-up log (never the secret itself).
    secret_origin: str | None = None
    jwks: str | None = None
    jwks_refresh_seconds: float = 300.0
    audience: str = DEFAULT_AUDIENCE
    issuer: tuple[str, ...] = (DEFAULT_ISSUER,)
    leeway_seconds: float = 30.0
    max_token_lifetime_seconds: float = DEFAULT_MAX_TOKEN_LIFETIME
    role_claim: str = "role"
    agency_claim: str = "agency"
    purpose_claim: str = "purpose"
    purposes: frozenset[str] | None = None
    anonymous_role: str = "public"
    api_keys: tuple[ApiKey, ...] = ()
    access: AccessSettings = field(default_factory=AccessSettings)

    @property
    def anonymous(self) -> Principal:
        """The principal of a request without credentials."""
        if self.demo and self.anonymous_role != "public":
            return Principal(subject="anonymous", role=self.anonymous_role, method="anonymous", demo=True)
        return PUBLIC

    @property
    def secret_fingerprint(self) -> str | None:
        """First 12 hex digits of SHA-256 of the secret: names it in logs without revealing it."""
        if self.secret is None:
            return None
        return hashlib.sha256(self.secret.encode()).hexdigest()[:12]


# --- configuration -----------------------------------------------------------------------------


_KNOWN = {
    "secret",
    "secret_env",
    "secret_file",
    "jwks",
    "jwks_refresh_seconds",
    "audience",
    "issuer",
    "leeway_seconds",
    "max_token_lifetime_seconds",
    "role_claim",
    "agency_claim",
    "purpose_claim",
    "purposes",
    "anonymous_role",
    "api_keys",
    "suppression_k",
    "limits",
}


def load_auth(config: HubConfig, *, create_dev_secret: bool = True) -> AuthSettings:
    """Check ``[auth]`` of ``config``; raises :class:`ConfigError` listing every problem.

    A demo hub without signing keys gets a development secret (created beside the
    configuration if ``create_dev_secret``).
    """
    raw = dict(config.auth)
    problems: list[str] = []
    for key in sorted(set(raw) - _KNOWN):
        problems.append(f"[auth].{key} is not a known setting")

    secret, origin = _secret(raw, config, problems)
    jwks = raw.get("jwks")
    if jwks is not None:
        jwks = _jwks_location(jwks, config.base_dir, problems)
    if secret is None and jwks is None and config.demo:
        secret, origin = _dev_secret(config.base_dir, create_dev_secret)

    audience = raw.get("audience", DEFAULT_AUDIENCE)
    if not isinstance(audience, str) or not audience:
        problems.append("[auth].audience must be a non-empty string")
        audience = DEFAULT_AUDIENCE
    issuer = raw.get("issuer", DEFAULT_ISSUER)
    issuers = (issuer,) if isinstance(issuer, str) else issuer
    if not isinstance(issuers, list | tuple) or not issuers or not all(isinstance(i, str) for i in issuers):
        problems.append("[auth].issuer must be a string or a list of strings")
        issuers = (DEFAULT_ISSUER,)

    leeway = _number(raw, "leeway_seconds", 30.0, 0, 600, problems)
    lifetime = _number(
        raw, "max_token_lifetime_seconds", DEFAULT_MAX_TOKEN_LIFETIME, 60, 30 * 86_400, problems
    )
    refresh = _number(raw, "jwks_refresh_seconds", 300.0, 0, 86_400, problems)
    claims = {}
    for name in ("role_claim", "agency_claim", "purpose_claim"):
        value = raw.get(name, name.removesuffix("_claim"))
        if not isinstance(value, str) or not value:
            problems.append(f"[auth].{name} must be a non-empty string (a dotted claim path)")
            value = name.removesuffix("_claim")
        claims[name] = value

    purposes = raw.get("purposes")
    allowed: frozenset[str] | None = None
    if purposes is not None:
        if not isinstance(purposes, list) or not purposes or not all(_valid_purpose(p) for p in purposes):
            problems.append("[auth].purposes must be a non-empty list of short printable strings")
        else:
            allowed = frozenset(purposes)

    anonymous_role = raw.get("anonymous_role", "analyst" if config.demo else "public")
    if anonymous_role not in ("public", "analyst"):
        problems.append("[auth].anonymous_role must be 'public' or 'analyst' (never a personal-data role)")
        anonymous_role = "public"
    if not config.demo and anonymous_role != "public":
        log.warning("[auth].anonymous_role is ignored: anonymous callers are 'public' outside demo mode")
        anonymous_role = "public"

    api_keys = _api_keys(raw.get("api_keys", []), problems)
    k = raw.get("suppression_k", DEFAULT_K)
    if not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= 1000:
        problems.append("[auth].suppression_k must be an integer from 2 to 1000")
        k = DEFAULT_K
    limits = _limits(raw.get("limits", {}), problems)

    if problems:
        raise ConfigError("invalid [auth] configuration:\n" + "\n".join(f"  - {p}" for p in problems))
    return AuthSettings(
        demo=config.demo,
        secret=secret,
        secret_origin=origin,
        jwks=jwks,
        jwks_refresh_seconds=refresh,
        audience=audience,
        issuer=tuple(issuers),
        leeway_seconds=leeway,
        max_token_lifetime_seconds=lifetime,
        role_claim=claims["role_claim"],
        agency_claim=claims["agency_claim"],
        purpose_claim=claims["purpose_claim"],
        purposes=allowed,
        anonymous_role=anonymous_role,
        api_keys=api_keys,
        access=AccessSettings(suppression_k=k, limits=limits),
    )


def _secret(raw: dict[str, Any], config: HubConfig, problems: list[str]) -> tuple[str | None, str | None]:
    given = [k for k in ("secret", "secret_env", "secret_file") if k in raw]
    if len(given) > 1:
        problems.append("[auth]: give at most one of secret, secret_env, secret_file")
        return None, None
    if not given:
        return None, None
    key = given[0]
    value = raw[key]
    if not isinstance(value, str) or not value:
        problems.append(f"[auth].{key} must be a non-empty string")
        return None, None
    if key == "secret":
        secret, origin = value, "[auth].secret in the configuration file"
    elif key == "secret_env":
        env = os.environ.get(value)
        if not env:
            problems.append(f"[auth].secret_env: environment variable {value} is not set")
            return None, None
        secret, origin = env, f"environment variable {value}"
    else:
        path = Path(value) if Path(value).is_absolute() else config.base_dir / value
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError:
            problems.append(f"[auth].secret_file: cannot read {path}")
            return None, None
        origin = f"file {path}"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        problems.append(f"[auth]: the HS256 secret must be at least {MIN_SECRET_BYTES} bytes")
        return None, None
    return secret, origin


def _dev_secret(base_dir: Path, create: bool) -> tuple[str | None, str | None]:
    """The demo hub's development secret, generated once (mode 0600) beside its configuration."""
    path = base_dir / DEV_SECRET_FILE
    if not path.exists() and create:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
        except FileExistsError:
            pass  # another process made it first: use theirs
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None, None
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return None, None
    return secret, f"development secret in {path}"


def _jwks_location(value: Any, base_dir: Path, problems: list[str]) -> str | None:
    if not isinstance(value, str) or not value:
        problems.append("[auth].jwks must be a file path or an https URL")
        return None
    parsed = urllib.parse.urlparse(value)
    if parsed.scheme in ("http", "https"):
        if parsed.scheme == "http" and not _is_loopback(parsed.hostname or ""):
            problems.append("[auth].jwks: a JWKS URL must use https (http only for localhost)")
            return None
        return value
    if parsed.scheme not in ("", "file"):
        problems.append(f"[auth].jwks: unsupported URL scheme {parsed.scheme!r}")
        return None
    path = Path(parsed.path if parsed.scheme == "file" else value)
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        problems.append(f"[auth].jwks: file not found: {path}")
        return None
    return str(path)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _number(
    raw: dict[str, Any], key: str, default: float, low: float, high: float, problems: list[str]
) -> float:
    value = raw.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"[auth].{key} must be a number from {low:g} to {high:g}")
        return default
    return float(value)


def _api_keys(raw: Any, problems: list[str]) -> tuple[ApiKey, ...]:
    if not isinstance(raw, list):
        problems.append("[[auth.api_keys]] must be an array of tables")
        return ()
    keys: list[ApiKey] = []
    seen_ids: set[str] = set()
    seen_hashes: set[str] = set()
    for i, item in enumerate(raw):
        where = f"[[auth.api_keys]] #{i + 1}"
        if not isinstance(item, dict):
            problems.append(f"{where} must be a table")
            continue
        unknown = set(item) - {"id", "sha256", "role", "agency", "subject", "purpose"}
        if unknown:
            problems.append(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
        key_id, digest, role = item.get("id"), item.get("sha256"), item.get("role")
        agency, purpose = item.get("agency"), item.get("purpose")
        if not isinstance(key_id, str) or not key_id or len(key_id) > 100:
            problems.append(f"{where}: id is required (a short name)")
            continue
        if key_id in seen_ids:
            problems.append(f"{where}: duplicate id {key_id!r}")
        seen_ids.add(key_id)
        if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
            problems.append(f"{where} ({key_id}): sha256 must be 64 hex digits (the hash, never the key)")
            continue
        if digest.lower() in seen_hashes:
            problems.append(f"{where} ({key_id}): the same key hash is configured twice")
        seen_hashes.add(digest.lower())
        if role not in ROLES:
            problems.append(f"{where} ({key_id}): role must be one of {', '.join(ROLES)}")
            continue
        if agency is not None and (not isinstance(agency, str) or not _AGENCY.match(agency.upper())):
            problems.append(f"{where} ({key_id}): agency must be an agency code such as POLRI")
            continue
        if purpose is not None and not _valid_purpose(purpose):
            problems.append(f"{where} ({key_id}): purpose must be a short printable string")
            continue
        subject = item.get("subject", f"api-key:{key_id}")
        keys.append(
            ApiKey(
                id=key_id,
                sha256=digest.lower(),
                role=role,
                agency=agency.upper() if agency else None,
                subject=str(subject),
                purpose=purpose,
            )
        )
    return tuple(keys)


def _limits(raw: Any, problems: list[str]) -> QueryLimits:
    if not isinstance(raw, dict):
        problems.append("[auth.limits] must be a table")
        return QueryLimits()
    defaults = QueryLimits()
    known = {f.name for f in fields(QueryLimits)}
    values: dict[str, Any] = {}
    for key in sorted(set(raw) - known):
        problems.append(f"[auth.limits].{key} is not a known limit ({', '.join(sorted(known))})")
    bounds = {
        "max_depth": (2, 100),
        "max_aliases": (0, 10_000),
        "max_tokens": (100, 1_000_000),
        "max_cost": (10, 100_000_000),
        "list_size": (1, 1000),
        "request_timeout_seconds": (0.1, 3600),
        "max_work": (1, 10_000_000),
        "concurrent_requests": (1, 1000),
        "work_per_second": (1, 10_000_000),
        "work_burst": (1, 100_000_000),
        "anonymous_share": (0.01, 1),
    }
    for key, (low, high) in bounds.items():
        if key not in raw:
            continue
        value = raw[key]
        integral = isinstance(getattr(defaults, key), int)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (integral and not isinstance(value, int))
            or not low <= value <= high
        ):
            problems.append(f"[auth.limits].{key} must be a number from {low} to {high}")
            continue
        values[key] = value
    introspection = raw.get("introspection", True)
    if not isinstance(introspection, bool):
        problems.append("[auth.limits].introspection must be true or false")
        introspection = True
    values["introspection"] = introspection
    limits = QueryLimits(**values)
    if limits.max_work > limits.work_burst * limits.anonymous_share:
        problems.append(
            "[auth.limits].max_work must not exceed work_burst × anonymous_share "
            "(such a request could never run)"
        )
    return limits


def _valid_purpose(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value.strip()) <= MAX_PURPOSE_LENGTH
        and _PRINTABLE.match(value) is not None
    )


# --- keys and tokens ---------------------------------------------------------------------------


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest under which an API key is configured."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh API key with 256 bits of entropy (shown once; only its hash is stored)."""
    return "tppo_" + secrets.token_urlsafe(32)


def mint_token(
    settings: AuthSettings,
    role: str,
    agency: str | None = None,
    purpose: str | None = None,
    ttl_seconds: int = 3600,
    subject: str | None = None,
) -> str:
    """A signed HS256 development token for ``role`` (raises ``ValueError`` on bad input)."""
    if settings.secret is None:
        raise ValueError(
            "no HS256 secret configured: set [auth] secret_env / secret_file (or use a demo hub)"
        )
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if agency is not None and not _AGENCY.match(agency.upper()):
        raise ValueError("agency must be an agency code such as POLRI")
    if purpose is not None and not _valid_purpose(purpose):
        raise ValueError("purpose must be a short printable string")
    if settings.purposes is not None and purpose is not None and purpose not in settings.purposes:
        raise ValueError(f"purpose must be one of: {', '.join(sorted(settings.purposes))}")
    if not 1 <= ttl_seconds <= settings.max_token_lifetime_seconds:
        raise ValueError(
            f"ttl must be between 1 second and the hub's maximum token lifetime "
            f"({settings.max_token_lifetime_seconds:g} s, [auth].max_token_lifetime_seconds)"
        )
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject or f"dev-{role}" + (f"-{agency.lower()}" if agency else ""),
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "aud": settings.audience,
        "iss": settings.issuer[0],
        "jti": secrets.token_hex(8),
    }
    _set_claim(claims, settings.role_claim, role)
    if agency:
        _set_claim(claims, settings.agency_claim, agency.upper())
    if purpose:
        _set_claim(claims, settings.purpose_claim, purpose)
    return jwt.encode(claims, settings.secret, algorithm="HS256")


def _set_claim(claims: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    target = claims
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _get_claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


# --- authentication ----------------------------------------------------------------------------


class KeySet:
    """RS256 public keys from a JWKS file or URL, refreshed on an unknown ``kid`` (key rotation)."""

    def __init__(self, location: str, refresh_seconds: float) -> None:
        self.location = location
        self.refresh_seconds = refresh_seconds
        self._keys: dict[str | None, Any] = {}
        self._last_attempt = -float("inf")
        self._lock = asyncio.Lock()

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    async def load(self) -> None:
        """(Re)read the key set; on failure keep the keys there are and log the reason."""
        self._last_attempt = time.monotonic()
        try:
            raw = await asyncio.to_thread(self._read)
            self._keys = _parse_jwks(raw)
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            log.error("JWKS %s could not be loaded (%s)", self.location, type(exc).__name__)
            return
        log.info("JWKS %s: %d RS256 key(s)", self.location, len(self._keys))

    def _read(self) -> bytes:
        if not self.is_url:
            return Path(self.location).read_bytes()[:_JWKS_MAX_BYTES]
        request = urllib.request.Request(self.location, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read(_JWKS_MAX_BYTES)

    async def key(self, kid: str | None) -> Any:
        """The public key for ``kid``; refetches at most once per ``refresh_seconds``."""
        found = self._lookup(kid)
        if found is None and time.monotonic() - self._last_attempt >= self.refresh_seconds:
            async with self._lock:
                found = self._lookup(kid)
                if found is None and time.monotonic() - self._last_attempt >= self.refresh_seconds:
                    await self.load()
                    found = self._lookup(kid)
        return found

    def _lookup(self, kid: str | None) -> Any:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)


def _parse_jwks(raw: bytes) -> dict[str | None, Any]:
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str | None, Any] = {}
    for item in data["keys"]:
        if not isinstance(item, dict) or item.get("kty") != "RSA" or item.get("alg", "RS256") != "RS256":
            continue
        if item.get("use", "sig") != "sig":
            continue
        keys[item.get("kid")] = jwt.PyJWK(item, algorithm="RS256").key
    return keys


class Authenticator:
    """Turns request headers into a :class:`Principal` or an :class:`AuthError`."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.keyset = KeySet(settings.jwks, settings.jwks_refresh_seconds) if settings.jwks else None
        self._api_keys = {k.sha256: k for k in settings.api_keys}

    async def start(self) -> None:
        """Load the JWKS (fetched over HTTPS if a URL) and log how callers authenticate."""
        if self.keyset is not None:
            await self.keyset.load()
        s = self.settings
        if s.demo:
            log.warning(
                "DEMO MODE: anonymous callers act as role %r; tokens are signed with %s "
                "(fingerprint %s). Never serve real data in demo mode.",
                s.anonymous.role,
                s.secret_origin or "no HS256 secret",
                s.secret_fingerprint or "-",
            )
        elif s.secret is None and self.keyset is None and not s.api_keys:
            log.warning("no [auth] credentials configured: every caller is 'public' (statistics only)")
        elif s.secret is not None:
            log.info(
                "HS256 tokens accepted (secret from %s, fingerprint %s)",
                s.secret_origin,
                s.secret_fingerprint,
            )

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The principal of a request; raises :class:`AuthError` for any bad credential."""
        getlist = getattr(headers, "getlist", None)
        if getlist is not None:
            for name in CREDENTIAL_HEADERS:
                if len(getlist(name)) > 1:
                    raise AuthError(
                        f"the {name} header is given more than once", code="BAD_USER_INPUT", status=400
                    )
        authorization = headers.get("authorization")
        api_key = headers.get("x-api-key")
        purpose = self._purpose(headers.get("x-purpose"))
        if authorization is not None and api_key is not None:
            raise AuthError("send either a bearer token or an API key, not both")
        if authorization is not None:
            principal = await self._from_token(authorization)
        elif api_key is not None:
            principal = self._from_api_key(api_key)
        else:
            principal = self.settings.anonymous
        return self._with_purpose(principal, purpose)

    def _purpose(self, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        if not _valid_purpose(value):
            raise AuthError("X-Purpose must be a short printable text", code="BAD_USER_INPUT", status=400)
        return value

    def _with_purpose(self, principal: Principal, purpose: str | None) -> Principal:
        if purpose is not None:
            if principal.purpose is not None and principal.purpose != purpose:
                raise AuthError(
                    "X-Purpose differs from the purpose the credential was issued for",
                    code="BAD_USER_INPUT",
                    status=400,
                )
            principal = _replace(principal, purpose=purpose)
        allowed = self.settings.purposes
        if principal.purpose is not None and allowed is not None and principal.purpose not in allowed:
            raise AuthError(
                f"unknown purpose; declare one of: {', '.join(sorted(allowed))}",
                code="BAD_USER_INPUT",
                status=400,
            )
        return principal

    async def _from_token(self, authorization: str) -> Principal:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        algorithm = header.get("alg")
        key: Any
        if algorithm == "HS256" and self.settings.secret is not None:
            key = self.settings.secret
        elif algorithm == "RS256" and self.keyset is not None:
            kid = header.get("kid")
            key = await self.keyset.key(kid if isinstance(kid, str) else None)
            if key is None:
                raise AuthError("token signed with an unknown key")
        else:
            raise AuthError("token algorithm not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.settings.audience,
                issuer=list(self.settings.issuer),
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token not issued for this hub (audience)") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token from an unknown issuer") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthError("invalid token") from None
        self._check_lifetime(claims)
        return self._principal_from_claims(claims)

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        """Refuse a token valid for longer than the hub allows (a leaked one must expire soon)."""
        maximum = self.settings.max_token_lifetime_seconds + self.settings.leeway_seconds
        expires, issued = claims.get("exp"), claims.get("iat")
        if not isinstance(expires, int | float):
            raise AuthError("token expiry invalid")
        if isinstance(issued, int | float) and not isinstance(issued, bool):
            lifetime = expires - issued
        else:
            lifetime = expires - time.time()
        if lifetime > maximum:
            raise AuthError(
                f"token lifetime exceeds the hub's maximum of {self.settings.max_token_lifetime_seconds:g} s"
            )

    def _principal_from_claims(self, claims: Mapping[str, Any]) -> Principal:
        s = self.settings
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 200:
            raise AuthError("token subject invalid")
        role = _get_claim(claims, s.role_claim)
        if isinstance(role, list):
            known = [r for r in role if r in ROLES]
            role = known[0] if len(known) == 1 else None
        if role not in ROLES:
            raise AuthError("token carries no single hub role")
        agency = _get_claim(claims, s.agency_claim)
        if agency is not None:
            if not isinstance(agency, str) or not _AGENCY.match(agency.upper()):
                raise AuthError("token agency claim invalid")
            agency = agency.upper()
        purpose = _get_claim(claims, s.purpose_claim)
        if purpose is not None and not _valid_purpose(purpose):
            raise AuthError("token purpose claim invalid")
        jti = claims.get("jti")
        if role in AUDITED_ROLES and (not isinstance(jti, str) or not jti.strip()):
            raise AuthError(f"a {role} token must carry a `jti` (token id): the audit records it")
        return Principal(
            subject=subject,
            role=role,
            agency=agency,
            purpose=purpose.strip() if isinstance(purpose, str) else None,
            method="jwt",
            token_id=str(jti)[:100] if jti is not None else None,
        )

    def _from_api_key(self, value: str) -> Principal:
        found = self._api_keys.get(hash_api_key(value.strip())) if value.strip() else None
        if found is None:
            raise AuthError("unknown API key")
        return Principal(
            subject=found.subject or f"api-key:{found.id}",
            role=found.role,
            agency=found.agency,
            purpose=found.purpose,
            method="api_key",
            api_key_id=found.id,
        )


def _replace(principal: Principal, **changes: Any) -> Principal:
    values = {f.name: getattr(principal, f.name) for f in fields(Principal)}
    values.update(changes)
    return Principal(**values)
