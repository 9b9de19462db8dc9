"""Hub configuration: which agency sources to serve and how, from one TOML file.

```toml
[hub]
demo = true                 # anonymous GraphiQL users act as analysts (demo only)
max_page_size = 500
source_timeout_seconds = 10

[http]
cors_origins = ["https://portal.example.go.id"]

[[sources]]
name = "polri"
mapping = "polri"           # a built-in mapping, or a path to a mapping file
url = "sqlite:///polri.sqlite"   # relative to this file; or postgresql://…
schema = "polri"            # PostgreSQL schema (search_path), optional
required = true             # an unusable mapping stops start-up (false: start without it)
```

The file's shape is declared once, as the pydantic models below (``extra="forbid"``): a
misspelt key is an error with its line and a suggestion (``hub.toml:7: [http].cors_origin:
unknown setting (did you mean 'cors_origins'?)``), never a setting silently ignored. A
malformed file is a :class:`ConfigError` naming every problem, raised before anything starts.
The shape of ``[auth]`` is :mod:`hub.engine.config_auth`'s; its meaning (secrets, keys, tokens)
is :mod:`hub.access.auth`'s, which reports what needs the environment at the key's line too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from hub.engine.config_auth import AuthSection
from hub.support.locator import TomlLocator
from hub.support.typed_toml import Problem, StrictModel, TomlFileError, located, read_toml, validate

#: A source name: lower-case letters, digits and _, starting with a letter (it appears in ids).
SOURCE_NAME = r"^[a-z][a-z0-9_]{0,39}$"
#: A GraphQL operation name (metrics labels are limited to listed names).
OPERATION_NAME = r"^[_A-Za-z][_0-9A-Za-z]{0,63}$"
#: A database host, optionally with a port (registration allow-list).
HOST = r"^[A-Za-z0-9.\-\[\]:]{1,255}$"


class ConfigError(ValueError):
    """The configuration file cannot be used; the message lists what is wrong."""


# --- the file's shape ------------------------------------------------------------------------


class HubSection(StrictModel):
    """``[hub]``: serving settings."""

    demo: bool = Field(
        False, description="Anonymous callers act as analysts; a development secret signs tokens."
    )
    graphiql: bool = Field(True, description="Serve GraphiQL at /graphql.")
    max_page_size: int = Field(500, ge=1, le=5000, description="Largest `first` a caller may ask for.")
    source_timeout_seconds: float = Field(10.0, gt=0, description="Default time limit of one source call.")
    breaker_threshold: int = Field(5, ge=1, description="Consecutive failures that open a source's breaker.")
    breaker_reset_seconds: float = Field(15.0, gt=0, description="How long a breaker stays open.")
    example_query: str | None = Field(None, description="The query GraphiQL opens with.")
    store: str = Field(
        "sqlite:///hub-store.sqlite",
        description="The hub's own store (audit log, linkage index, registrations): SQLite or PostgreSQL "
        "URL.",
    )


class HttpSection(StrictModel):
    """``[http]``: the HTTP surface."""

    cors_origins: list[Annotated[str, Field(pattern=r"^https?://")]] = Field(
        default_factory=list, description='Browser origins allowed by CORS, e.g. "https://portal.go.id".'
    )
    persisted_queries: str | Literal[False] | None = Field(
        "apq",
        description='"apq" (Apollo automatic persisted queries), false, or the path of an allow-list file.',
    )
    tracing: Literal["console", "otlp", False] | None = Field(
        None, description='OpenTelemetry tracing per operation and source call: "console", "otlp" or false.'
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, le=1_000_000_000, description="Largest request body accepted (413 above)."
    )
    metrics_operations: list[Annotated[str, Field(pattern=OPERATION_NAME)]] = Field(
        default_factory=list,
        description="Operation names that get their own metrics series (others count as `other`).",
    )


class RegistrationSection(StrictModel):
    """``[registration]``: where run-time sources may be registered from (nothing unless listed).

    The hub's own store is refused whatever the list says.
    """

    allowed_hosts: list[Annotated[str, Field(pattern=HOST)]] = Field(
        default_factory=list,
        description='PostgreSQL servers, e.g. ["db.kemensos.go.id", "10.1.2.3:5432"].',
    )
    allowed_directories: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="Directories of SQLite files (relative to the configuration file)."
    )


class SourceEntry(StrictModel):
    """``[[sources]]``: one agency database to serve."""

    name: str = Field(pattern=SOURCE_NAME, description="Source name (lower-case letters, digits, _).")
    url: str = Field(
        description="Database URL; relative SQLite paths are relative to the configuration file."
    )
    mapping: str | None = Field(None, description="A built-in mapping name or the path of a mapping file.")
    adapter: str | None = Field(None, description="A Python adapter's entry-point name instead of a mapping.")
    schema_: str | None = Field(None, alias="schema", description="PostgreSQL schema (search_path).")
    timeout_seconds: float | None = Field(None, gt=0, description="This source's time limit per call.")
    required: bool = Field(
        True,
        description="Whether an unusable mapping or adapter stops start-up (false: the hub starts without it "
        "and says so in `sources`).",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Settings of a Python adapter (any other key of its entry)."
    )

    @model_validator(mode="before")
    @classmethod
    def _adapter_options(cls, data: Any) -> Any:
        """A Python adapter's own settings sit beside the standard keys; a mapping source has none."""
        if isinstance(data, dict) and "adapter" in data:
            known = {name for name in cls.model_fields} | {"schema"}
            extra = {k: v for k, v in data.items() if k not in known}
            if extra:
                data = {k: v for k, v in data.items() if k not in extra}
                data["options"] = {**data.get("options", {}), **extra}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> SourceEntry:
        if (self.mapping is None) == (self.adapter is None):
            raise ValueError("give exactly one of mapping = or adapter =")
        return self


class ConfigFile(StrictModel):
    """The whole ``hub.toml``."""

    hub: HubSection = Field(default_factory=HubSection)
    http: HttpSection = Field(default_factory=HttpSection)
    sources: list[SourceEntry] = Field(default_factory=list)
    registration: RegistrationSection = Field(default_factory=RegistrationSection)
    auth: AuthSection = Field(
        default_factory=AuthSection, description="Who may call the hub, and how much they may ask."
    )

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceEntry]) -> list[SourceEntry]:
        seen: set[str] = set()
        for entry in sources:
            if entry.name in seen:
                raise ValueError(f"duplicate source name {entry.name!r}")
            seen.add(entry.name)
        return sources


# --- what the rest of the hub reads ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One agency database to serve."""

    name: str
    url: str
    mapping: str | None = None
    adapter: str | None = None
    schema: str | None = None
    timeout_seconds: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: An unusable mapping or adapter stops start-up unless this is False.
    required: bool = True


@dataclass(frozen=True, slots=True)
class HubConfig:
    """The whole configuration; ``base_dir`` resolves relative paths in it."""

    sources: tuple[SourceConfig, ...]
    base_dir: Path
    demo: bool = False
    graphiql: bool = True
    max_page_size: int = 500
    default_page_size: int = 50
    source_timeout_seconds: float = 10.0
    #: Consecutive failures that open a source's circuit breaker, and how long it stays open
    #: before one probe call is let through.
    breaker_threshold: int = 5
    breaker_reset_seconds: float = 15.0
    example_query: str | None = None
    #: The hub's own store (audit log, linkage index); relative SQLite paths are relative
    #: to ``base_dir``.
    store_url: str = "sqlite:///hub-store.sqlite"
    #: ``[http]``: browser origins allowed by CORS (portals), persisted queries ("apq" to
    #: accept Apollo's automatic persisted queries, or a path to an allow-list JSON file:
    #: then only listed queries run), and OpenTelemetry tracing ("console", "otlp" or off).
    cors_origins: tuple[str, ...] = ()
    persisted_queries: str | None = "apq"
    tracing: str | None = None
    #: ``[http].max_body_bytes``: largest request body accepted (HTTP 413 beyond it).
    max_body_bytes: int = 1_000_000
    #: ``[http].metrics_operations``: operation names that get their own metrics series
    #: (with the allow-listed queries' names); every other name is counted as ``other``.
    metrics_operations: tuple[str, ...] = ()
    #: ``[registration]``: where run-time sources may live (see :mod:`hub.engine.onboarding`):
    #: database hosts (``host`` or ``host:port``) and directories of SQLite files.
    registration_hosts: tuple[str, ...] = ()
    registration_directories: tuple[Path, ...] = ()
    #: ``[auth]`` as checked against its shape; :mod:`hub.access.auth` gives it meaning.
    auth: AuthSection = field(default_factory=AuthSection)
    #: The file the configuration came from, and where its keys are (for later problems).
    file: str = "hub.toml"
    locator: TomlLocator | None = field(default=None, compare=False, repr=False)

    def problem(self, loc: tuple[str | int, ...], message: str) -> Problem:
        """A problem with key ``loc`` of this configuration, at its line when the file is known."""
        return located(self.file, self.locator, loc, message)


def load_config(path: Path) -> HubConfig:
    """Read and check a hub configuration file (every problem with its line)."""
    try:
        raw, locator = read_toml(path)
        heading = f"invalid configuration {path.name}"
        model = validate(ConfigFile, raw, file=path.name, locator=locator, heading=heading)
    except TomlFileError as exc:
        raise ConfigError(str(exc)) from None
    return _config(model, path.parent.resolve(), file=path.name, locator=locator)


def parse_config(raw: dict[str, Any], base_dir: Path, *, file: str = "hub.toml") -> HubConfig:
    """Check a configuration already read from TOML (no line numbers: there is no text)."""
    try:
        model = validate(ConfigFile, raw, file=file, heading="invalid configuration")
    except TomlFileError as exc:
        raise ConfigError(str(exc)) from None
    return _config(model, base_dir, file=file)


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``hub.toml`` for editors (from the same models that validate it)."""
    return ConfigFile.model_json_schema(by_alias=True)


def _config(
    model: ConfigFile, base_dir: Path, *, file: str, locator: TomlLocator | None = None
) -> HubConfig:
    hub, http = model.hub, model.http
    return HubConfig(
        sources=tuple(
            SourceConfig(
                name=s.name,
                url=s.url,
                mapping=s.mapping,
                adapter=s.adapter,
                schema=s.schema_,
                timeout_seconds=s.timeout_seconds,
                options=dict(s.options),
                required=s.required,
            )
            for s in model.sources
        ),
        base_dir=base_dir,
        demo=hub.demo,
        graphiql=hub.graphiql,
        max_page_size=hub.max_page_size,
        default_page_size=min(50, hub.max_page_size),
        source_timeout_seconds=float(hub.source_timeout_seconds),
        breaker_threshold=hub.breaker_threshold,
        breaker_reset_seconds=float(hub.breaker_reset_seconds),
        example_query=hub.example_query,
        store_url=hub.store,
        cors_origins=tuple(http.cors_origins),
        persisted_queries=http.persisted_queries or None,
        tracing=http.tracing or None,
        max_body_bytes=http.max_body_bytes,
        metrics_operations=tuple(http.metrics_operations),
        registration_hosts=tuple(h.lower() for h in model.registration.allowed_hosts),
        # An absolute path stays itself.
        registration_directories=tuple(
            (base_dir / d).resolve() for d in model.registration.allowed_directories
        ),
        auth=model.auth,
        file=file,
        locator=locator,
    )
