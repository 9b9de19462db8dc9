"""Registering sources without a restart: ``registerSource`` / ``removeSource`` and the store.

Hubs here serve copies of demo databases; expected counts come from sqlite3 on those copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.access.policy import Principal
from hub.engine.config import parse_config
from hub.engine.sources import SourceRegistry
from hub.server.app import Hub
from hub.server.cli import main
from tests.conftest import patient

ROOT = Path(__file__).resolve().parent.parent
ADMIN = Principal(subject="ops-admin", role="admin")
#: The second admin of four eyes: approves what ADMIN registered.
APPROVER = Principal(subject="second-admin", role="admin")
ANALYST = Principal(subject="an-analyst", role="analyst")
KEMLU_MAPPING = (ROOT / "adapters" / "mappings" / "kemlu.toml").read_text(encoding="utf-8")

PAYLOAD = """activated pending revision replaced
    source { name status agency { code } }
    findings { severity kind message line field count examples { value count } }"""
REGISTER = f"""
mutation($input: RegisterSourceInput!) {{
  registerSource(input: $input) {{ {PAYLOAD} }}
}}"""
APPROVE = f"""
mutation($name: String!, $revision: String) {{
  approveSource(name: $name, revision: $revision) {{ {PAYLOAD} }}
}}"""
REMOVE = "mutation($name: String!) { removeSource(name: $name) { name removed } }"
SOURCES = "{ sources { name status } }"


def count_cases(path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def config_dict() -> dict[str, Any]:
    return {
        "hub": {"store": "sqlite:///hub-store.sqlite"},
        "registration": {"allowed_directories": ["."], "allowed_hosts": ["127.0.0.1", "localhost"]},
        "sources": [
            {"name": "polri", "mapping": "polri", "url": "sqlite:///polri.sqlite"},
            {"name": "simfoni", "mapping": "simfoni", "url": "sqlite:///simfoni.sqlite"},
        ],
    }


@pytest.fixture()
def workdir(demo_dir: Path, tmp_path: Path) -> Path:
    for name in ("polri", "simfoni", "kemlu"):
        shutil.copy(demo_dir / f"{name}.sqlite", tmp_path / f"{name}.sqlite")
    return tmp_path


@pytest.fixture()
async def hub(workdir: Path) -> AsyncIterator[Hub]:
    # Patient: these tests check answers under churn, not speed (a queried source timed out
    # once at the product's 10 s on a machine saturated by several test runs).
    instance = Hub(patient(parse_config(config_dict(), workdir)))
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


async def execute(hub: Hub, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
    result = await hub.execute(query, variables, **kw)
    return result


async def file(hub: Hub, **input: Any) -> dict[str, Any]:
    """``registerSource`` by ADMIN: the registration waits for a second admin."""
    result = await hub.execute(REGISTER, {"input": input}, principal=ADMIN)
    assert not result.errors, [e.formatted for e in result.errors]
    return result.data["registerSource"]


async def register(hub: Hub, **input: Any) -> dict[str, Any]:
    """Register (ADMIN) and, when the check passed, approve (APPROVER): four eyes."""
    filed = await file(hub, **input)
    if not filed["pending"]:
        return filed
    assert filed["activated"] is False and filed["source"] is None
    result = await hub.execute(
        APPROVE, {"name": input["name"], "revision": filed["revision"]}, principal=APPROVER
    )
    assert not result.errors, [e.formatted for e in result.errors]
    return result.data["approveSource"]


def kemlu_input(**changes: Any) -> dict[str, Any]:
    return {"name": "kemlu", "url": "sqlite:///kemlu.sqlite", "mapping": KEMLU_MAPPING, **changes}


async def total(hub: Hub) -> int:
    result = await hub.execute("{ cases(first: 1) { totalCount } }")
    assert not result.errors, [e.formatted for e in result.errors]
    return int(result.data["cases"]["totalCount"])


async def test_an_admin_registers_a_source_and_it_serves_at_once(hub: Hub, workdir: Path) -> None:
    before = await total(hub)
    payload = await register(hub, **kemlu_input())
    assert payload["activated"] is True and payload["replaced"] is False
    assert payload["source"] == {"name": "kemlu", "status": "UP", "agency": {"code": "KEMLU"}}
    assert [f for f in payload["findings"] if f["severity"] == "ERROR"] == []
    assert await total(hub) == before + count_cases(workdir / "kemlu.sqlite", "cases")
    result = await hub.execute(
        '{ cases(filter: {agencies: ["KEMLU"]}, first: 3) { edges { node { agency { code } } } } }'
    )
    assert {e["node"]["agency"]["code"] for e in result.data["cases"]["edges"]} == {"KEMLU"}


async def test_only_admins_may_register_or_remove(hub: Hub) -> None:
    for principal in (ANALYST, Principal(subject="cw", role="caseworker", agency="POLRI", purpose="x")):
        result = await hub.execute(REGISTER, {"input": kemlu_input()}, principal=principal)
        assert [e.extensions["code"] for e in result.errors] == ["FORBIDDEN"]
        result = await hub.execute(REMOVE, {"name": "kemlu"}, principal=principal)
        assert [e.extensions["code"] for e in result.errors] == ["FORBIDDEN"]
    result = await hub.execute(SOURCES)
    assert "kemlu" not in {s["name"] for s in result.data["sources"]}


async def test_a_failed_check_activates_and_stores_nothing(hub: Hub) -> None:
    broken = KEMLU_MAPPING.replace('passport_number = "passport_no"', 'passport_number = "passport_nr"')
    payload = await register(hub, **kemlu_input(mapping=broken, mappingFileName="kemlu.toml"))
    assert payload["activated"] is False and payload["source"] is None
    (error,) = [f for f in payload["findings"] if f["severity"] == "ERROR"]
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "passport_nr" in text)
    assert error["kind"] == "missing_column" and error["line"] == line and "passport_nr" in error["message"]
    result = await hub.execute(SOURCES)
    assert "kemlu" not in {s["name"] for s in result.data["sources"]}
    assert await hub.registry.registrations.all() == []
    # Malformed TOML: also a finding at its line, not a crash.
    payload = await register(hub, **kemlu_input(mapping="[case\ntable = 1"))
    assert payload["activated"] is False and payload["findings"][0]["line"] == 1


async def test_bad_requests_are_bad_user_input(hub: Hub) -> None:
    cases = [
        (kemlu_input(name="Kemlu Baru"), "input.name"),
        (kemlu_input(name="polri"), "input.name"),  # a configured source
        (kemlu_input(adapter="csv"), "input.mapping"),  # both mapping and adapter
        (kemlu_input(url="not a url"), "input.url"),
    ]
    for input, argument in cases:
        result = await hub.execute(REGISTER, {"input": input}, principal=ADMIN)
        assert [e.extensions for e in result.errors] == [{"code": "BAD_USER_INPUT", "argument": argument}]
    result = await hub.execute(REMOVE, {"name": "polri"}, principal=ADMIN)
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    result = await hub.execute(REMOVE, {"name": "nothing_here"}, principal=ADMIN)
    assert result.data["removeSource"] == {"name": "nothing_here", "removed": False}


async def test_registrations_survive_a_restart_and_removal_is_persisted(workdir: Path) -> None:
    config = parse_config(config_dict(), workdir)
    first = Hub(config)
    await first.start()
    try:
        assert (await register(first, **kemlu_input()))["activated"]
    finally:
        await first.stop()
    second = Hub(config)
    await second.start()
    try:
        result = await second.execute(SOURCES)
        assert {s["name"]: s["status"] for s in result.data["sources"]}["kemlu"] == "UP"
        result = await second.execute(REMOVE, {"name": "kemlu"}, principal=ADMIN)
        assert result.data["removeSource"]["removed"] is True
        result = await second.execute(SOURCES)
        assert "kemlu" not in {s["name"] for s in result.data["sources"]}
    finally:
        await second.stop()
    third = Hub(config)
    await third.start()
    try:
        result = await third.execute(SOURCES)
        assert {s["name"] for s in result.data["sources"]} == {"polri", "simfoni"}
    finally:
        await third.stop()


async def test_replicas_sharing_a_store_follow_each_other(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SourceRegistry, "watch_seconds", 0.1)
    config = parse_config(config_dict(), workdir)
    one, two = Hub(config), Hub(config)
    await one.start()
    await two.start()
    try:
        assert (await register(one, **kemlu_input()))["activated"]
        await _eventually(two, lambda names: "kemlu" in names)
        await one.execute(REMOVE, {"name": "kemlu"}, principal=ADMIN)
        await _eventually(two, lambda names: "kemlu" not in names)
    finally:
        await one.stop()
        await two.stop()


async def _eventually(hub: Hub, condition: Any) -> None:
    for _ in range(100):
        result = await hub.execute(SOURCES)
        if condition({s["name"] for s in result.data["sources"]}):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replica did not follow the store")


async def test_register_remove_and_reregister_while_queries_run_loses_no_query(
    hub: Hub, workdir: Path
) -> None:
    base = count_cases(workdir / "polri.sqlite", "laporan_polisi") + count_cases(
        workdir / "simfoni.sqlite", "kasus"
    )
    with_kemlu = base + count_cases(workdir / "kemlu.sqlite", "cases")
    query = """{ cases(first: 30) { totalCount edges { node { id agency { code }
                 victims { id sex } services { id type } } } } }"""
    churning = True
    answers: list[Any] = []

    async def queries() -> None:
        while churning:
            answers.append(await hub.execute(query))

    async def churn() -> None:
        nonlocal churning
        try:
            for _ in range(4):
                assert (await register(hub, **kemlu_input()))["activated"]
                await asyncio.sleep(0.02)
                again = await register(hub, **kemlu_input())
                assert again["replaced"], again  # re-register: replace
                await asyncio.sleep(0.02)
                result = await hub.execute(REMOVE, {"name": "kemlu"}, principal=ADMIN)
                assert result.data["removeSource"]["removed"]
                await asyncio.sleep(0.02)
        finally:
            churning = False

    await asyncio.gather(churn(), *(queries() for _ in range(4)))
    assert len(answers) >= 8
    for answer in answers:
        assert not answer.errors, [e.formatted for e in answer.errors]
        cases = answer.data["cases"]
        assert cases["totalCount"] in (base, with_kemlu)
        assert len(cases["edges"]) == 30


async def test_connection_secrets_are_never_returned_or_logged(
    hub: Hub, postgres_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = postgres_server.create_database("registration_secrets", replace=True)
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute((ROOT / "examples" / "kemensos" / "schema.sql").read_text(encoding="utf-8"))
    finally:
        await conn.close()
    secret = "pw-Z9x7-never-shown"
    with_password = url.replace("tppo@", f"tppo:{secret}@")
    mapping = (ROOT / "examples" / "kemensos" / "mapping.toml").read_text(encoding="utf-8")
    payload = await register(hub, name="kemensos", url=with_password, mapping=mapping, schema="rehsos")
    assert payload["activated"] is True
    port = url.rsplit(":", 1)[1].split("/")[0]
    failed = await register(
        hub, name="kemensos_down", url=with_password.replace(f":{port}/", ":1/"), mapping=mapping
    )
    assert failed["activated"] is False and failed["findings"][0]["kind"] == "connection"
    result = await hub.execute("{ sources { name status detail description } }")
    config_file = hub.config.base_dir / "hub.toml"
    config_file.write_text('[hub]\nstore = "sqlite:///hub-store.sqlite"\n', encoding="utf-8")
    listing = io.StringIO()
    with contextlib.redirect_stdout(listing):
        assert await asyncio.to_thread(main, ["adapter", "list", "--config", str(config_file)]) == 0
    assert "kemensos\tkemensos.toml\tpostgresql://tppo:***@" in listing.getvalue()
    everything = f"{payload}{failed}{result.data}{caplog.text}{listing.getvalue()}"
    assert secret not in everything
    registration = await hub.registry.registrations.get("kemensos")
    assert registration is not None and secret in registration.url  # stored, to reconnect


async def test_cli_add_list_and_remove(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "hub.toml").write_text(
        '[hub]\nstore = "sqlite:///hub-store.sqlite"\n\n[registration]\nallowed_directories = ["."]\n\n'
        '[[sources]]\nname = "polri"\nmapping = "polri"\nurl = "sqlite:///polri.sqlite"\n',
        encoding="utf-8",
    )
    (workdir / "kemlu.toml").write_text(KEMLU_MAPPING, encoding="utf-8")
    monkeypatch.chdir(workdir)

    def cli(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(list(argv))
        return code, out.getvalue()

    broken = KEMLU_MAPPING.replace('"passport_no"', '"paspor"')
    (workdir / "broken.toml").write_text(broken, encoding="utf-8")
    code, out = await asyncio.to_thread(
        cli, "adapter", "add", "broken.toml", "--name", "kemlu", "--url", "sqlite:///kemlu.sqlite"
    )
    assert code == 1 and "paspor" in out
    assert (await asyncio.to_thread(cli, "adapter", "list"))[1] == ""
    code, _ = await asyncio.to_thread(
        cli, "adapter", "add", "kemlu.toml", "--name", "kemlu", "--url", "sqlite:///kemlu.sqlite"
    )
    assert code == 0
    code, out = await asyncio.to_thread(cli, "adapter", "list")
    assert code == 0 and out.startswith("kemlu\tkemlu.toml\tsqlite:///kemlu.sqlite")
    assert (await asyncio.to_thread(cli, "adapter", "remove", "kemlu"))[0] == 0
    assert (await asyncio.to_thread(cli, "adapter", "remove", "kemlu"))[0] == 1
    assert (await asyncio.to_thread(cli, "adapter", "remove", "polri"))[0] == 2  # configured: refused
