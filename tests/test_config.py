"""hub.toml is declared once as typed models: typos are errors with their line and a suggestion,
and a source that can never serve stops start-up unless the file says to start without it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.engine.config import ConfigError, config_json_schema, load_config, parse_config
from hub.server.app import Hub

TYPOS = """\
[hub]
demo = true
max_page_size = 100

[htpp]
cors_origins = []

[http]
cors_origin = ["https://portal.example.go.id"]
tracing = "zipkin"

[[sources]]
name = "polri"
url = "sqlite:///polri.sqlite"
mapping = "polri"
scheme = "tppo"

[[sources]]
name = "kemlu"
url = "sqlite:///kemlu.sqlite"
"""


def test_typos_are_errors_with_file_line_and_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(TYPOS, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = [line.strip() for line in str(info.value).splitlines()[1:]]
    assert problems == [
        "- hub.toml:5: [htpp]: unknown setting (did you mean 'http'?)",
        "- hub.toml:9: [http].cors_origin: unknown setting (did you mean 'cors_origins'?)",
        "- hub.toml:10: [http].tracing: Input should be 'console', 'otlp' or False",
        "- hub.toml:16: [[sources]] #1.scheme: unknown setting (did you mean 'schema'?)",
        "- hub.toml:18: [[sources]] #2: give exactly one of mapping = or adapter =",
    ]


def test_a_valid_file_reads_every_setting(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(
        '[hub]\nmax_page_size = 100\nstore = "sqlite:///s.sqlite"\n'
        '[http]\ncors_origins = ["https://portal.example.go.id"]\npersisted_queries = false\n'
        '[[sources]]\nname = "polri"\nurl = "sqlite:///p.sqlite"\nmapping = "polri"\nschema = "x"\n'
        "timeout_seconds = 2\nrequired = false\n"
        '[[sources]]\nname = "csv"\nurl = "file:///d"\nadapter = "csv"\nagency_code = "DINSOS"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert (config.max_page_size, config.default_page_size, config.store_url) == (100, 50, "sqlite:///s.sqlite")
    assert config.cors_origins == ("https://portal.example.go.id",)
    assert config.persisted_queries is None
    polri, csv = config.sources
    assert (polri.schema, polri.timeout_seconds, polri.required, polri.options) == ("x", 2.0, False, {})
    # A Python adapter's own settings sit beside the standard keys and reach the adapter.
    assert (csv.adapter, csv.options, csv.required) == ("csv", {"agency_code": "DINSOS"}, True)


def test_duplicate_names_and_bad_values_are_listed_together() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "hub": {"max_page_size": 0, "breaker_threshold": 0},
                "sources": [{"name": "a", "mapping": "polri", "url": "sqlite:///a"}] * 2,
            },
            Path("."),
        )
    text = str(info.value)
    assert "[hub].max_page_size: Input should be greater than or equal to 1" in text
    assert "[hub].breaker_threshold: Input should be greater than or equal to 1" in text
    assert "duplicate source name 'a'" in text


def test_the_editor_schema_comes_from_the_same_models() -> None:
    schema = config_json_schema()
    assert set(schema["properties"]) == {"hub", "http", "sources", "registration", "auth"}
    source = schema["$defs"]["SourceEntry"]
    assert source["additionalProperties"] is False
    assert "schema" in source["properties"] and "required" in source["properties"]


def _config(demo_dir: Path, tmp_path: Path, *, required: bool) -> Path:
    shutil.copy(demo_dir / "polri.sqlite", tmp_path / "polri.sqlite")
    shutil.copy(demo_dir / "kemlu.sqlite", tmp_path / "kemlu.sqlite")
    # kemlu's database served with polri's mapping: the tables the mapping names do not exist.
    path = tmp_path / "hub.toml"
    path.write_text(
        '[hub]\nstore = "sqlite:///store.sqlite"\n'
        '[[sources]]\nname = "polri"\nurl = "sqlite:///polri.sqlite"\nmapping = "polri"\n'
        f'[[sources]]\nname = "wrong"\nurl = "sqlite:///kemlu.sqlite"\nmapping = "polri"\n'
        f"required = {str(required).lower()}\n",
        encoding="utf-8",
    )
    return path


async def test_a_source_that_cannot_serve_stops_start_up(demo_dir: Path, tmp_path: Path) -> None:
    hub = Hub(load_config(_config(demo_dir, tmp_path, required=True)))
    with pytest.raises(ConfigError) as info:
        await hub.start()
    await hub.stop()
    text = str(info.value)
    assert "wrong: mapping does not fit its database" in text
    assert "required = false" in text
    assert "polri:" not in text


async def test_required_false_starts_without_it_and_says_so(demo_dir: Path, tmp_path: Path) -> None:
    hub = Hub(load_config(_config(demo_dir, tmp_path, required=False)))
    await hub.start()
    try:
        result = await hub.execute("{ sources { name status } cases(first: 3) { edges { node { id } } } }")
        assert {s["name"]: s["status"] for s in result.data["sources"]} == {"polri": "UP", "wrong": "DOWN"}
        assert len(result.data["cases"]["edges"]) == 3
    finally:
        await hub.stop()


def test_committed_editor_schema_is_current() -> None:
    """docs/hub.schema.json is generated from the models (regenerate: see its test)."""
    import json

    committed = json.loads(Path("docs/hub.schema.json").read_text(encoding="utf-8"))
    assert committed == config_json_schema(), (
        "docs/hub.schema.json is stale: python -c \"import json; from hub.engine.config import "
        "config_json_schema; print(json.dumps(config_json_schema(), indent=2, ensure_ascii=False))\" "
        "> docs/hub.schema.json"
    )
