"""Authentication: who is asking, from a JWT or an API key, checked before anything executes.

Configuration (``[auth]`` of the hub configuration; every key optional; its shape, with a
description of every key, is :mod:`hub.engine.config_auth` and ``docs/hub.schema.json``)::

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

    [auth.limits]                        # query safety (hub.engine.config_auth.QueryLimits)
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
An RS256 token while the JWKS cannot be fetched (and never was) is HTTP 503,
``SERVICE_UNAVAILABLE``: the credential may be fine, the hub cannot check it yet.
Callers without credentials are ``public`` — or, on a demo hub only, the ``anonymous_role``
(default ``analyst``), and every response says so.

A demo hub without signing keys gets a development secret generated once into
``.tppo-hub-dev-secret`` beside its configuration, so ``tppo-hub token`` works out of the box.
No secret, token or key is ever logged; only a fingerprint of the secret is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import jwt

from hub.access.jwks import JwksUnavailable, KeySet
from hub.access.policy import PUBLIC, ROLES, AccessSettings, Principal, QueryLimits
from hub.engine.config import ConfigError, HubConfig
from hub.engine.config_auth import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    DEFAULT_MAX_TOKEN_LIFETIME,
    MIN_SECRET_BYTES,
    ApiKeyEntry,
    valid_agency,
    valid_purpose,
)
from hub.support.typed_toml import Problem, TomlFileError

log = logging.getLogger("tppo_hub.auth")

#: File beside a demo configuration holding its generated development secret.
DEV_SECRET_FILE = ".tppo-hub-dev-secret"
#: Roles whose tokens must carry a ``jti``: the audit chain names the token of every personal
#: read (caseworker, coordinator) and of every source registration or approval (admin).
AUDITED_ROLES = frozenset({"caseworker", "coordinator", "admin"})
#: Request headers that carry a credential or its purpose: each may appear at most once.
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-purpose")
#: A configured API key: its SHA-256 hash and the principal it stands for (``[[auth.api_keys]]``).
ApiKey = ApiKeyEntry


class AuthError(Exception):
    """A request refused before execution: HTTP status, GraphQL error code and a safe message."""

    def __init__(self, message: str, code: str = "UNAUTHENTICATED", status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """The checked ``[auth]`` section."""

    demo: bool = False
    secret: str | None = field(default=None, repr=False)
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


def load_auth(config: HubConfig, *, create_dev_secret: bool = True) -> AuthSettings:
    """``[auth]`` of ``config`` made usable; :class:`ConfigError` lists every problem with its line.

    The section's shape was checked with the file (:mod:`hub.engine.config_auth`); what is
    checked here needs the environment: the secret's variable or file, the JWKS file. A demo
    hub without signing keys gets a development secret (created beside the configuration if
    ``create_dev_secret``).
    """
    section = config.auth
    problems: list[Problem] = []
    secret, origin = _secret(config, problems)
    jwks = _jwks_location(config, problems) if section.jwks is not None else None
    if secret is None and jwks is None and not problems and config.demo:
        secret, origin = _dev_secret(config.base_dir, create_dev_secret)
    if problems:
        raise ConfigError(str(TomlFileError(config.file, problems, f"invalid [auth] in {config.file}")))

    anonymous_role = section.anonymous_role or ("analyst" if config.demo else "public")
    if not config.demo and anonymous_role != "public":
        log.warning("[auth].anonymous_role is ignored: anonymous callers are 'public' outside demo mode")
        anonymous_role = "public"
    return AuthSettings(
        demo=config.demo,
        secret=secret,
        secret_origin=origin,
        jwks=jwks,
        jwks_refresh_seconds=section.jwks_refresh_seconds,
        audience=section.audience,
        issuer=section.issuers,
        leeway_seconds=section.leeway_seconds,
        max_token_lifetime_seconds=section.max_token_lifetime_seconds,
        role_claim=section.role_claim,
        agency_claim=section.agency_claim,
        purpose_claim=section.purpose_claim,
        purposes=frozenset(section.purposes) if section.purposes is not None else None,
        anonymous_role=anonymous_role,
        api_keys=tuple(section.api_keys),
        # The plain limits (the file's model only adds the check that they can be met together).
        access=AccessSettings(
            suppression_k=section.suppression_k, limits=QueryLimits(**dict(section.limits))
        ),
    )


def _secret(config: HubConfig, problems: list[Problem]) -> tuple[str | None, str | None]:
    """The HS256 secret and where it came from (never the secret in a message)."""
    section = config.auth
    if section.secret is not None:
        return section.secret.get_secret_value(), "[auth].secret in the configuration file"
    if section.secret_env is not None:
        key, secret = "secret_env", os.environ.get(section.secret_env)
        origin = f"environment variable {section.secret_env}"
        if not secret:
            problems.append(
                config.problem(("auth", key), f"environment variable {section.secret_env} is not set")
            )
            return None, None
    elif section.secret_file is not None:
        key, path = "secret_file", _relative(section.secret_file, config.base_dir)
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            problems.append(config.problem(("auth", key), f"cannot read {path}"))
            return None, None
        origin = f"file {path}"
    else:
        return None, None
    if len(secret.encode()) < MIN_SECRET_BYTES:
        problems.append(
            config.problem(
                ("auth", key), f"the HS256 secret in {origin} must be at least {MIN_SECRET_BYTES} bytes"
            )
        )
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


def _jwks_location(config: HubConfig, problems: list[Problem]) -> str | None:
    """The JWKS URL as given, or its file resolved against the configuration's directory."""
    value = config.auth.jwks or ""
    parsed = urllib.parse.urlparse(value)
    if parsed.scheme in ("http", "https"):
        return value
    path = _relative(parsed.path if parsed.scheme == "file" else value, config.base_dir)
    if not path.is_file():
        problems.append(config.problem(("auth", "jwks"), f"file not found: {path}"))
        return None
    return str(path)


def _relative(value: str, base_dir: Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else base_dir / path


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
    if agency is not None and not valid_agency(agency):
        raise ValueError("agency must be an agency code such as POLRI")
    if purpose is not None and not valid_purpose(purpose):
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
        if not valid_purpose(value):
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
            try:
                key = await self.keyset.key(kid if isinstance(kid, str) else None)
            except JwksUnavailable as exc:
                raise AuthError(str(exc), code="SERVICE_UNAVAILABLE", status=503) from None
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
            if not isinstance(agency, str) or not valid_agency(agency):
                raise AuthError("token agency claim invalid")
            agency = agency.upper()
        purpose = _get_claim(claims, s.purpose_claim)
        if purpose is not None and not valid_purpose(purpose):
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
