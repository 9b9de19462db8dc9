"""Hub configuration: which agency sources to serve and how, from one TOML file.

```toml
[hub]
demo = true                 # anonymous GraphiQL users act as analysts (demo only)
max_page_size = 500
source_timeout_seconds = 10

[[sources]]
name = "polri"
mapping = "polri"           # a built-in mapping, or a path to a mapping file
url = "sqlite:///polri.sqlite"   # relative to this file; or postgresql://…, mysql://…
schema = "polri"            # PostgreSQL schema (search_path), optional
```

A malformed file is a :class:`ConfigError` naming every problem, raised before anything
starts, so an operator never runs a hub that silently ignores half its configuration.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ConfigError(ValueError):
    """The configuration file cannot be used; the message lists what is wrong."""


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
    #: The raw ``[auth]`` section, checked by :mod:`hub.access.auth` when the app is built.
    auth: dict[str, Any] = field(default_factory=dict)


def load_config(path: Path) -> HubConfig:
    """Read and check a hub configuration file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    return parse_config(raw, path.parent.resolve())


def parse_config(raw: dict[str, Any], base_dir: Path) -> HubConfig:
    """Check a configuration already read from TOML."""
    problems: list[str] = []
    hub = raw.get("hub", {})
    if not isinstance(hub, dict):
        problems.append("[hub] must be a table")
        hub = {}
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    raw_sources = raw.get("sources", [])
    if not isinstance(raw_sources, list):
        problems.append("[[sources]] must be an array of tables")
        raw_sources = []
    for i, item in enumerate(raw_sources):
        where = f"[[sources]] #{i + 1}"
        if not isinstance(item, dict):
            problems.append(f"{where} must be a table")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{where}: name must be lower-case letters, digits or _ (got {name!r})")
            continue
        if name in seen:
            problems.append(f"{where}: duplicate source name {name!r}")
        seen.add(name)
        if not isinstance(item.get("url"), str):
            problems.append(f"{where} ({name}): url is required")
            continue
        if ("mapping" in item) == ("adapter" in item):
            problems.append(f"{where} ({name}): give exactly one of mapping = or adapter =")
            continue
        timeout = item.get("timeout_seconds")
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            problems.append(f"{where} ({name}): timeout_seconds must be a positive number")
            timeout = None
        known = {"name", "url", "mapping", "adapter", "schema", "timeout_seconds"}
        sources.append(
            SourceConfig(
                name=name,
                url=item["url"],
                mapping=item.get("mapping"),
                adapter=item.get("adapter"),
                schema=item.get("schema"),
                timeout_seconds=timeout,
                options={k: v for k, v in item.items() if k not in known},
            )
        )
    max_page = hub.get("max_page_size", 500)
    if not isinstance(max_page, int) or not 1 <= max_page <= 5000:
        problems.append("[hub].max_page_size must be an integer from 1 to 5000")
        max_page = 500
    timeout = hub.get("source_timeout_seconds", 10.0)
    if not isinstance(timeout, int | float) or timeout <= 0:
        problems.append("[hub].source_timeout_seconds must be a positive number")
        timeout = 10.0
    threshold = hub.get("breaker_threshold", 5)
    if not isinstance(threshold, int) or threshold < 1:
        problems.append("[hub].breaker_threshold must be a positive integer")
        threshold = 5
    reset = hub.get("breaker_reset_seconds", 15.0)
    if not isinstance(reset, int | float) or reset <= 0:
        problems.append("[hub].breaker_reset_seconds must be a positive number")
        reset = 15.0
    http = raw.get("http", {})
    if not isinstance(http, dict):
        problems.append("[http] must be a table")
        http = {}
    origins = http.get("cors_origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) and o.startswith("http") for o in origins):
        problems.append('[http].cors_origins must be a list of origins such as "https://portal.go.id"')
        origins = []
    persisted = http.get("persisted_queries", "apq")
    if persisted is not None and persisted is not False and not isinstance(persisted, str):
        problems.append('[http].persisted_queries must be "apq", false, or the path of an allow-list file')
        persisted = "apq"
    tracing = http.get("tracing")
    if tracing not in (None, False, "console", "otlp"):
        problems.append('[http].tracing must be "console", "otlp" or false')
        tracing = None
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
    return HubConfig(
        sources=tuple(sources),
        base_dir=base_dir,
        demo=bool(hub.get("demo", False)),
        graphiql=bool(hub.get("graphiql", True)),
        max_page_size=max_page,
        default_page_size=min(50, max_page),
        source_timeout_seconds=float(timeout),
        breaker_threshold=threshold,
        breaker_reset_seconds=float(reset),
        example_query=hub.get("example_query"),
        store_url=str(hub.get("store", "sqlite:///hub-store.sqlite")),
        cors_origins=tuple(origins),
        persisted_queries=persisted or None,
        tracing=tracing or None,
        auth=dict(raw.get("auth", {})) if isinstance(raw.get("auth", {}), dict) else {},
    )
