"""The shape of ``[auth]`` in ``hub.toml``: credentials, claims, API keys, statistics and limits.

Declared here, beside the rest of the file's shape (:mod:`hub.engine.config`), so that one
pydantic model validates the whole file with ``file:line`` and "did you mean" errors and
``docs/hub.schema.json`` covers every key of it. What the section *means* — reading the secret
from the environment or a file, the JWKS, turning tokens into principals — is
:mod:`hub.access.auth`'s, one floor up; the rights of each role are :mod:`hub.access.policy`'s.
Only what can be judged from the file alone is checked here; what needs the environment (a
variable that is not set, a file that is not there) is checked by ``load_auth`` and reported
at the key's line all the same.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    WrapValidator,
    field_validator,
    model_validator,
)

from hub.support.typed_toml import StrictModel
from hub.vocabulary.roles import Role

#: Default ``aud`` and ``iss`` of the hub's tokens.
DEFAULT_AUDIENCE = "tppo-hub"
DEFAULT_ISSUER = "tppo-hub"
#: RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_SECRET_BYTES = 32
#: Default minimum cell size for statistics below coordinator (CTDC practice).
DEFAULT_K = 11
#: Default of ``[auth].max_token_lifetime_seconds``: one day.
DEFAULT_MAX_TOKEN_LIFETIME = 86_400
MAX_PURPOSE_LENGTH = 200
#: An agency code (``POLRI``, ``KEMENPPPA``); lower case is accepted and upper-cased.
AGENCY_CODE = re.compile(r"^[A-Z][A-Z0-9_-]{0,39}$")
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")


def valid_purpose(value: Any) -> bool:
    """Whether ``value`` is a declarable purpose: short, printable, not blank."""
    return (
        isinstance(value, str)
        and 0 < len(value.strip()) <= MAX_PURPOSE_LENGTH
        and _PRINTABLE.match(value) is not None
    )


def valid_agency(value: Any) -> bool:
    """Whether ``value`` is an agency code (any case)."""
    return isinstance(value, str) and AGENCY_CODE.match(value.upper()) is not None


def _explained(message: str) -> WrapValidator:
    """Replace the generic message of a failed check with ``message`` (the schema stays exact)."""

    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(message) from None

    return WrapValidator(check)


def _checked(test: Any, message: str) -> AfterValidator:
    def check(value: Any) -> Any:
        if not test(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


Purpose = Annotated[
    str,
    Field(min_length=1, max_length=MAX_PURPOSE_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$"),
    _checked(valid_purpose, "must be a short printable text (at most 200 characters)"),
    _explained("must be a short printable text (at most 200 characters)"),
]
AgencyCode = Annotated[
    str,
    Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,39}$"),
    _explained("must be an agency code such as POLRI"),
    AfterValidator(str.upper),
]
ClaimPath = Annotated[
    str,
    Field(min_length=1, pattern=r"^[^.\s]+(\.[^.\s]+)*$"),
    _explained("must be a dotted claim path such as 'role' or 'realm_access.roles'"),
]


class QueryLimits(StrictModel):
    """``[auth.limits]``: how much one request may ask; each refusal answers ``QUERY_TOO_COMPLEX``."""

    model_config = ConfigDict(strict=True)

    max_depth: int = Field(12, ge=2, le=100, description="Deepest nesting of fields (introspection aside).")
    max_aliases: int = Field(30, ge=0, le=10_000, description="Aliased fields in one document.")
    max_tokens: int = Field(5000, ge=100, le=1_000_000, description="Lexical tokens in one document.")
    max_cost: int = Field(
        250_000,
        ge=10,
        le=100_000_000,
        description="Estimated fields resolved: every field costs 1, list fields multiply what is below "
        "them by `first` (or by `list_size` when they take no `first`).",
    )
    list_size: int = Field(5, ge=1, le=1000, description="Assumed length of a list without `first`.")
    request_timeout_seconds: float = Field(
        30.0, ge=0.1, le=3600, description="Time limit of one request's execution."
    )
    introspection: bool = Field(True, description="Whether `__schema` / `__type` may be queried.")
    max_work: float = Field(
        5_000.0,
        ge=1,
        le=10_000_000,
        description="Estimated work of one request, in milliseconds of hub and source time on the "
        "reference machine (the calibrated model of resolvers.safety.estimate_work).",
    )
    concurrent_requests: int = Field(
        4, ge=1, le=1000, description="Requests one caller may have in flight at once."
    )
    work_per_second: float = Field(
        200.0, ge=1, le=10_000_000, description="Rate at which a caller's work budget refills (ms/s)."
    )
    work_burst: float = Field(
        10_000.0, ge=1, le=100_000_000, description="Size of a caller's work budget (ms)."
    )
    anonymous_share: float = Field(
        0.5,
        ge=0.01,
        le=1,
        description="Share of the rate and of the budget that anonymous callers (told apart by address) get.",
    )


class LimitsSection(QueryLimits):
    """``[auth.limits]`` as written in the file: the limits, and that they can be met together."""

    @model_validator(mode="after")
    def _work_fits_the_budget(self) -> LimitsSection:
        if self.max_work > self.work_burst * self.anonymous_share:
            raise ValueError(
                "max_work must not exceed work_burst × anonymous_share (such a request could never run)"
            )
        return self


class ApiKeyEntry(StrictModel):
    """``[[auth.api_keys]]``: one API key, stored as its SHA-256 hash only."""

    model_config = ConfigDict(strict=True)

    id: str = Field(min_length=1, max_length=100, description="A short name of the key (in the audit log).")
    sha256: Annotated[
        str,
        Field(pattern=r"^[0-9a-fA-F]{64}$"),
        _explained("must be 64 hex digits: the key's SHA-256 hash, never the key (`tppo-hub apikey`)"),
        AfterValidator(str.lower),
    ] = Field(description="SHA-256 of the key, in hex; `tppo-hub apikey` prints a new key and its hash.")
    role: Role = Field(description="The role the key's holder acts in.")
    agency: AgencyCode | None = Field(None, description="The holder's agency code, e.g. POLRI.")
    subject: str | None = Field(
        None, min_length=1, max_length=200, description="Who holds it (default `api-key:<id>`)."
    )
    purpose: Purpose | None = Field(None, description="The purpose the key is issued for.")


class AuthSection(StrictModel):
    """``[auth]``: who may call the hub, and how much they may ask."""

    model_config = ConfigDict(strict=True)

    secret: SecretStr | None = Field(
        None, description="HS256 secret inline (development only; prefer secret_env or secret_file)."
    )
    secret_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable that holds the HS256 secret.",
    )
    secret_file: str | None = Field(
        None, min_length=1, description="File holding the HS256 secret (relative to hub.toml)."
    )
    jwks: str | None = Field(
        None,
        min_length=1,
        description="RS256 public keys: a JWKS file (relative to hub.toml) or an https URL "
        "(http only for localhost).",
    )
    jwks_refresh_seconds: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="How often the JWKS is fetched again, and at least how long between two fetches "
        "when a token names an unknown key (key rotation).",
    )
    audience: str = Field(DEFAULT_AUDIENCE, min_length=1, description="The `aud` tokens must carry.")
    issuer: Annotated[
        Annotated[str, Field(min_length=1)]
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)],
        _explained("must be an issuer or a non-empty list of issuers"),
    ] = Field(DEFAULT_ISSUER, description="The `iss` tokens must carry: one issuer or a list.")
    leeway_seconds: float = Field(30.0, ge=0, le=600, description="Clock skew allowed on `exp` and `nbf`.")
    max_token_lifetime_seconds: float = Field(
        DEFAULT_MAX_TOKEN_LIFETIME,
        ge=60,
        le=30 * 86_400,
        description="Tokens valid for longer (exp − iat, or exp − now) are refused.",
    )
    role_claim: ClaimPath = Field("role", description="Claim holding the hub role (dotted path).")
    agency_claim: ClaimPath = Field("agency", description="Claim holding the caller's agency (dotted path).")
    purpose_claim: ClaimPath = Field(
        "purpose", description="Claim holding the declared purpose (dotted path)."
    )
    purposes: Annotated[list[Purpose], Field(min_length=1)] | None = Field(
        None, description="The purposes a caller may declare (any short text if not given)."
    )
    anonymous_role: Literal["public", "analyst"] | None = Field(
        None,
        description="What callers without credentials act as on a demo hub (default analyst there, "
        "public everywhere else: never a personal-data role).",
    )
    api_keys: list[ApiKeyEntry] = Field(default_factory=list, description="API keys (hashes only).")
    suppression_k: int = Field(
        DEFAULT_K, ge=2, le=1000, description="Statistics: smallest published cell below coordinator."
    )
    limits: LimitsSection = Field(default_factory=LimitsSection, description="Query safety limits.")

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the HS256 secret must be at least {MIN_SECRET_BYTES} bytes")
        return secret

    @field_validator("jwks")
    @classmethod
    def _jwks_location(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urllib.parse.urlparse(value)
        if parsed.scheme == "http" and not _is_loopback(parsed.hostname or ""):
            raise ValueError("a JWKS URL must use https (http only for localhost)")
        if parsed.scheme not in ("", "file", "http", "https"):
            raise ValueError(f"unsupported URL scheme {parsed.scheme!r} (a file path or an https URL)")
        return value

    @field_validator("anonymous_role", mode="wrap")
    @classmethod
    def _not_personal(cls, value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError("must be 'public' or 'analyst' (never a personal-data role)") from None

    @field_validator("api_keys")
    @classmethod
    def _distinct_keys(cls, keys: list[ApiKeyEntry]) -> list[ApiKeyEntry]:
        ids = [k.id for k in keys]
        hashes = [k.sha256 for k in keys]
        for key_id in sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"duplicate id {key_id!r}")
        for key in keys:
            if hashes.count(key.sha256) > 1:
                raise ValueError(f"the same key hash is configured twice ({key.id!r})")
        return keys

    @model_validator(mode="after")
    def _one_secret(self) -> AuthSection:
        given = [k for k in ("secret", "secret_env", "secret_file") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(
                f"give at most one of secret, secret_env, secret_file (given: {', '.join(given)})"
            )
        return self

    @property
    def issuers(self) -> tuple[str, ...]:
        """The accepted issuers, the first one being what minted tokens carry."""
        return (self.issuer,) if isinstance(self.issuer, str) else tuple(self.issuer)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
