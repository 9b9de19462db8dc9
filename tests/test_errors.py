"""Bad input gets a clear error with extensions.code; a failing source never fails the query."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.base import MappingError, SourceError
from adapters.mapping import load_mapping, parse_mapping
from hub.engine.config import ConfigError, load_config, parse_config
from hub.engine.ids import encode_id
from hub.server.app import Hub
from hub.vocabulary.model import Entity


async def errors_of(hub: Hub, query: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    result = await hub.execute(query, variables)
    return [e.formatted for e in result.errors or []]


async def test_first_over_the_cap_names_the_argument(hub: Hub) -> None:
    (error,) = await errors_of(hub, "{ cases(first: 501) { totalCount } }")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first"}


async def test_forged_cursor_is_bad_input(hub: Hub) -> None:
    (error,) = await errors_of(hub, '{ cases(after: "not-a-cursor") { totalCount } }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == "after"


async def test_cursor_of_another_order_is_rejected(hub: Hub) -> None:
    result = await hub.execute("{ cases(first: 1) { pageInfo { endCursor } } }")
    cursor = result.data["cases"]["pageInfo"]["endCursor"]
    (error,) = await errors_of(
        hub,
        "query($c: String) { cases(after: $c, orderBy: REPORTED_AT_ASC) { totalCount } }",
        {"c": cursor},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_reversed_dates_and_unknown_agency(hub: Hub) -> None:
    (error,) = await errors_of(
        hub,
        '{ cases(filter: {reportedFrom: "2024-01-01", reportedTo: "2023-01-01"}) { totalCount } }',
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter.reportedFrom"}
    (error,) = await errors_of(hub, '{ cases(filter: {agencies: ["NOPE"]}) { totalCount } }')
    assert error["extensions"]["argument"] == "filter.agencies"
    assert "NOPE" in error["message"]


async def test_malformed_id_and_unknown_record(hub: Hub) -> None:
    (error,) = await errors_of(hub, '{ node(id: "%%%") { id } }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    result = await hub.execute(
        "query($id: ID!) { case(id: $id) { id } }",
        {"id": encode_id("polri", Entity.CASE, "LP/B/0/1900")},
    )
    assert result.errors is None and result.data == {"case": None}


async def test_validation_errors_carry_a_code(hub: Hub) -> None:
    (error,) = await errors_of(hub, "{ cases { nonsense } }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_too_deep_query_is_too_complex(hub: Hub) -> None:
    nested = "id"
    for _ in range(8):
        nested = f"services {{ case {{ {nested} }} }}"
    deep = f"{{ cases {{ edges {{ node {{ {nested} }} }} }} }}"
    errors = await errors_of(hub, deep)
    assert errors and errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_personal_fields_are_denied_without_leaking(hub: Hub) -> None:
    result = await hub.execute(
        "{ cases(first: 2, orderBy: REPORTED_AT_ASC) { edges { node { victims { id fullName nik sex } } } } }"
    )
    victims = [v for e in result.data["cases"]["edges"] for v in e["node"]["victims"]]
    assert victims and all(v["fullName"] is None and v["nik"] is None and v["sex"] for v in victims)
    codes = {e.extensions["code"] for e in result.errors}
    assert codes == {"FORBIDDEN"}
    assert len(result.errors) == 2 * len(victims)


async def test_a_source_that_fails_at_query_time_gives_partial_results(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = hub.registry.get("lpsk").source

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise SourceError("source 'lpsk': connection failed (OSError)")

    monkeypatch.setattr(source, "search_cases", broken)
    monkeypatch.setattr(source, "search_cases_with", broken)  # a counted page comes this way
    result = await hub.execute("{ cases(first: 50) { totalCount edges { node { agency { code } } } } }")
    assert result.data is not None
    agencies = {e["node"]["agency"]["code"] for e in result.data["cases"]["edges"]}
    assert "LPSK" not in agencies and len(agencies) >= 3
    (error,) = [e.formatted for e in result.errors]
    assert error["extensions"] == {"code": "SOURCE_UNAVAILABLE", "source": "lpsk"}
    status = {s["source"]: s["status"] for s in result.extensions["sources"]}
    assert status["lpsk"] == "error" and status["polri"] == "ok"


async def test_a_slow_source_times_out_without_blocking_the_rest(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    entry = hub.registry.get("kemlu")
    original = entry.source.search_cases

    async def slow(search: Any) -> Any:
        await asyncio.sleep(5)
        return await original(search)

    monkeypatch.setattr(entry.source, "search_cases", slow)
    monkeypatch.setattr(entry, "timeout_seconds", 0.2)
    result = await hub.execute("{ cases(first: 10) { edges { node { id } } } }")
    assert len(result.data["cases"]["edges"]) == 10
    assert [e.extensions for e in result.errors] == [{"code": "SOURCE_TIMEOUT", "source": "kemlu"}]


async def test_a_source_that_is_down_at_start_does_not_stop_the_hub(demo_dir: Path, tmp_path: Path) -> None:
    for name in ("polri", "kemlu"):
        shutil.copy(demo_dir / f"{name}.sqlite", tmp_path / f"{name}.sqlite")
    config = parse_config(
        {
            "sources": [
                {"name": "polri", "mapping": "polri", "url": "sqlite:///polri.sqlite"},
                {"name": "kemlu", "mapping": "kemlu", "url": "sqlite:///missing.sqlite"},
            ]
        },
        tmp_path,
    )
    hub = Hub(config)
    await hub.start()
    try:
        result = await hub.execute(
            "{ sources { name status } cases(first: 5) { edges { node { agency { code } } } } }"
        )
        assert {s["name"]: s["status"] for s in result.data["sources"]} == {
            "polri": "UP",
            "kemlu": "DOWN",
        }
        assert {e["node"]["agency"]["code"] for e in result.data["cases"]["edges"]} == {"POLRI"}
        assert [e.extensions for e in result.errors] == [{"code": "SOURCE_UNAVAILABLE", "source": "kemlu"}]
    finally:
        await hub.stop()


def test_malformed_mapping_lists_every_problem() -> None:
    raw = {
        "source": {"agency": {"code": "X", "name": "X", "type": "NOT_A_TYPE"}},
        "case": {
            "table": "t",
            "key": "id",
            "reported_at": {"column": "d", "format": "MM-DD"},
            "colour": "c",
            "stage": {"column": "s", "codes": "nope"},
        },
        "person": {"table": "p", "key": "id", "roles": {"value": "HERO"}},
    }
    with pytest.raises(MappingError) as info:
        parse_mapping(raw, "x")
    text = str(info.value)
    for fragment in ("NOT_A_TYPE", "MM-DD", "colour", "'nope'", "HERO", "case_key"):
        assert fragment in text, fragment
    assert len(info.value.problems) >= 6


async def test_mapping_that_does_not_fit_the_database_is_reported(demo_dir: Path, tmp_path: Path) -> None:
    text = (
        (Path("adapters/mappings/polri.toml"))
        .read_text()
        .replace('full_name = "nama"', 'full_name = "nama_lengkap"', 1)
    )
    (tmp_path / "bad.toml").write_text(text)
    shutil.copy(demo_dir / "polri.sqlite", tmp_path / "polri.sqlite")
    from adapters.engines import EngineOptions
    from adapters.sql import MappedSQLSource

    source = MappedSQLSource(
        load_mapping(tmp_path / "bad.toml", "polri"),
        EngineOptions("sqlite:///polri.sqlite"),
        tmp_path,
    )
    with pytest.raises(MappingError, match="nama_lengkap"):
        await source.open()


def test_malformed_config_is_refused() -> None:
    with pytest.raises(ConfigError, match="duplicate source name"):
        parse_config({"sources": [{"name": "a", "mapping": "polri", "url": "sqlite:///a"}] * 2}, Path("."))
    with pytest.raises(ConfigError, match="not found"):
        load_config(Path("does-not-exist.toml"))
