"""The audit trail: appended before the response, a verifiable hash chain, readable by admins.

Each test that tampers with the log uses a hub with its own store, so the session hub's log
stays intact. Tampering is done with plain SQL, as an intruder with database access would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hub.access.audit import AuditLog, AuditUnavailable
from hub.access.policy import Principal
from hub.engine.config import parse_config
from hub.engine.ids import encode_id
from hub.server.app import Hub
from hub.server.cli import main as cli
from hub.vocabulary.model import Entity
from tests.test_ground_truth import truth_person_key

READ = "query($id: ID!) { node(id: $id) { ... on PersonRecord { id sex fullName nik } } }"
COORDINATOR = Principal(subject="dina", role="coordinator", agency="KEMENPPPA", purpose="investigation")
ADMIN = Principal(subject="root", role="admin")


@pytest.fixture
async def own_hub(demo_dir: Path, tmp_path: Path) -> AsyncIterator[Hub]:
    """A hub over the POLRI database with a store of its own."""
    shutil.copy(demo_dir / "polri.sqlite", tmp_path / "polri.sqlite")
    (tmp_path / "hub.toml").write_text(
        '[[sources]]\nname = "polri"\nmapping = "polri"\nurl = "sqlite:///polri.sqlite"\n'
    )
    config = parse_config(
        {"sources": [{"name": "polri", "mapping": "polri", "url": "sqlite:///polri.sqlite"}]}, tmp_path
    )
    hub = Hub(config)
    await hub.start()
    yield hub
    await hub.stop()


def polri_ids(truth: dict[str, Any], n: int) -> list[tuple[str, dict[str, Any]]]:
    persons = truth["agencies"]["polri"]["persons"][:n]
    return [(encode_id("polri", Entity.PERSON, truth_person_key("polri", p)), p) for p in persons]


async def read(hub: Hub, gid: str, principal: Principal = COORDINATOR) -> Any:
    return await hub.execute(READ, {"id": gid}, principal)


async def sql(hub: Hub, statement: str, **params: Any) -> list[Any]:
    async with hub.store.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return list(result) if result.returns_rows else []


async def fill(hub: Hub, truth: dict[str, Any], n: int = 5) -> list[str]:
    ids = []
    for gid, _ in polri_ids(truth, n):
        assert (await read(hub, gid)).errors is None
        ids.append(gid)
    return ids


# --- append and verify -------------------------------------------------------------------------


async def test_entries_chain_and_verify(own_hub: Hub, truth: dict[str, Any]) -> None:
    ids = await fill(own_hub, truth)
    rows = await sql(
        own_hub, "SELECT id, prev_hash, hash, record_ids, fields, subject FROM audit_log ORDER BY id"
    )
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == "0" * 64
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 5))
    assert [json.loads(r.record_ids) for r in rows] == [[gid] for gid in ids]
    assert {r.fields for r in rows} == {json.dumps(["fullName", "nik"])}
    report = await own_hub.audit.verify()
    assert report.ok and report.entries == 5 and report.head_id == 5 and report.head_hash == rows[-1].hash


async def test_cli_verify(own_hub: Hub, truth: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    await fill(own_hub, truth, 2)
    command = ["audit", "verify", "--config", str(tmp_path / "hub.toml")]
    assert await asyncio.to_thread(cli, command) == 0  # the CLI runs its own event loop
    assert "intact: 2 entries" in capsys.readouterr().out
    await sql(own_hub, "UPDATE audit_log SET purpose = 'curiosity' WHERE id = 1")
    assert await asyncio.to_thread(cli, command) == 1
    captured = capsys.readouterr()
    assert "BROKEN" in captured.out and "entry 1" in captured.err


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE audit_log SET purpose = 'curiosity' WHERE id = 2", "entry 2: content does not match"),
        ("UPDATE audit_log SET subject = 'someone-else' WHERE id = 3", "entry 3: content does not match"),
        ("UPDATE audit_log SET fields = '[\"nik\"]' WHERE id = 1", "entry 1: content does not match"),
        ("UPDATE audit_log SET at = '2020-01-01T00:00:00.000000Z' WHERE id = 4", "entry 4: content"),
        (
            "DELETE FROM audit_record WHERE entry_id = 3; DELETE FROM audit_log WHERE id = 3",
            "entry 3: missing",
        ),
        ("DELETE FROM audit_record WHERE entry_id = 5; DELETE FROM audit_log WHERE id = 5", "chain head"),
        ("DELETE FROM audit_record WHERE entry_id = 2", "entry 2: record index differs"),
    ],
)
async def test_verify_detects_tampering(
    own_hub: Hub, truth: dict[str, Any], tamper: str, expected: str
) -> None:
    await fill(own_hub, truth)
    for statement in tamper.split("; "):
        await sql(own_hub, statement)
    report = await own_hub.audit.verify()
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems


async def test_verify_detects_reordered_entries(own_hub: Hub, truth: dict[str, Any]) -> None:
    await fill(own_hub, truth)
    columns = (
        "at, subject, role, agency, purpose, credential, query_hash, record_ids, fields, prev_hash, hash"
    )
    rows = {r.id: r for r in await sql(own_hub, f"SELECT id, {columns} FROM audit_log WHERE id IN (2, 3)")}
    for target, source in ((2, 3), (3, 2)):  # swap the contents of entries 2 and 3
        values = rows[source]._mapping
        sets = ", ".join(f"{c} = :{c}" for c in columns.split(", "))
        await sql(own_hub, f"UPDATE audit_log SET {sets} WHERE id = :id", **{**values, "id": target})
    await sql(own_hub, "DELETE FROM audit_record WHERE entry_id IN (2, 3)")
    report = await own_hub.audit.verify()
    assert any("entry 2" in p for p in report.problems) and any("entry 3" in p for p in report.problems)


async def test_concurrent_requests_and_replicas_keep_one_chain(own_hub: Hub, truth: dict[str, Any]) -> None:
    ids = [gid for gid, _ in polri_ids(truth, 12)]
    replica = AuditLog(own_hub.store)  # a second hub instance on the same store
    results = await asyncio.gather(
        *(read(own_hub, gid) for gid in ids),
        *(replica.append(COORDINATOR, "q", []) for _ in range(8)),
    )
    assert all(r.errors is None for r in results[:12])
    report = await own_hub.audit.verify()
    assert report.ok and report.entries == 20


# --- the response waits for the audit ----------------------------------------------------------


async def test_no_personal_data_without_an_audit_entry(
    own_hub: Hub, truth: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    (gid, person), *_ = polri_ids(truth, 1)

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise AuditUnavailable("disk full")

    monkeypatch.setattr(own_hub.audit, "append", broken)
    result = await read(own_hub, gid)
    node = result.data["node"]
    assert node == {"id": gid, "sex": person["sex"], "fullName": None, "nik": None}
    assert sorted((e.extensions["code"], e.extensions["field"], tuple(e.path)) for e in result.errors) == [
        ("AUDIT_UNAVAILABLE", "fullName", ("node", "fullName")),
        ("AUDIT_UNAVAILABLE", "nik", ("node", "nik")),
    ]
    assert all(person["full_name"] not in e.message for e in result.errors)


async def test_a_real_store_failure_withholds_the_data(own_hub: Hub, truth: dict[str, Any]) -> None:
    (gid, person), *_ = polri_ids(truth, 1)
    await sql(own_hub, "ALTER TABLE audit_log RENAME TO audit_log_moved")
    try:
        result = await read(own_hub, gid)
    finally:
        await sql(own_hub, "ALTER TABLE audit_log_moved RENAME TO audit_log")
    assert result.data["node"]["fullName"] is None and result.data["node"]["sex"] == person["sex"]
    assert {e.extensions["code"] for e in result.errors} == {"AUDIT_UNAVAILABLE"}
    assert (await own_hub.audit.verify()).ok  # the failed append left nothing half-written


async def test_denied_reads_are_not_audited(own_hub: Hub, truth: dict[str, Any]) -> None:
    (gid, _), *_ = polri_ids(truth, 1)
    result = await read(own_hub, gid, Principal(role="coordinator"))  # no purpose
    assert {e.extensions["reason"] for e in result.errors} == {"PURPOSE_REQUIRED"}
    assert await sql(own_hub, "SELECT id FROM audit_log") == []


# --- reading the log ---------------------------------------------------------------------------

LOG = """query($filter: AuditFilter, $first: Int!, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id at subject role agency purpose credential queryHash recordIds fields prevHash hash
    } }
  }
}"""


async def page_through(hub: Hub, first: int, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = None
    while True:
        result = await hub.execute(LOG, {"filter": filter, "first": first, "after": after}, ADMIN)
        assert result.errors is None, result.errors
        page = result.data["auditLog"]
        entries += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return entries
        after = page["pageInfo"]["endCursor"]


async def test_admins_read_the_log_newest_first_with_keyset_pages(
    own_hub: Hub, truth: dict[str, Any]
) -> None:
    ids = await fill(own_hub, truth, 7)
    other = Principal(subject="eko", role="caseworker", agency="POLRI", purpose="victim services")
    assert (await read(own_hub, ids[0], other)).errors is None
    entries = await page_through(own_hub, first=3)
    assert [e["id"] for e in entries] == [8, 7, 6, 5, 4, 3, 2, 1]
    newest = entries[0]
    assert {k: newest[k] for k in ("subject", "role", "agency", "purpose", "credential")} == {
        "subject": "eko",
        "role": "caseworker",
        "agency": "POLRI",
        "purpose": "victim services",
        "credential": "in_process",
    }
    assert newest["queryHash"] == hashlib.sha256(READ.encode()).hexdigest()
    assert newest["recordIds"] == [ids[0]] and newest["fields"] == ["fullName", "nik"]
    assert newest["prevHash"] == entries[1]["hash"]

    by_record = await page_through(own_hub, first=10, filter={"recordId": ids[0]})
    assert [e["id"] for e in by_record] == [8, 1]
    by_subject = await page_through(own_hub, first=10, filter={"subject": "dina", "role": "coordinator"})
    assert len(by_subject) == 7
    by_agency = await page_through(own_hub, first=10, filter={"agency": "polri"})
    assert [e["id"] for e in by_agency] == [8]
    since = await page_through(own_hub, first=10, filter={"since": newest["at"]})
    assert [e["id"] for e in since] == [8]


async def test_only_admins_read_the_log(own_hub: Hub) -> None:
    for role in ("public", "analyst", "caseworker", "coordinator"):
        result = await own_hub.execute(LOG, {"first": 1}, Principal(role=role, purpose="x"))
        assert result.data is None and result.errors[0].extensions["code"] == "FORBIDDEN"


async def test_bad_log_arguments(own_hub: Hub) -> None:
    for variables, argument in (({"first": 501}, "first"), ({"first": 1, "after": "bm9wZQ"}, "after")):
        result = await own_hub.execute(LOG, variables, ADMIN)
        assert result.errors[0].extensions == {"code": "BAD_USER_INPUT", "argument": argument}


# --- PostgreSQL: several hub replicas share one chain ------------------------------------------


async def test_replicas_on_postgres_keep_one_chain(postgres_server: Any) -> None:
    from hub.storage.store import Store

    url = postgres_server.create_database("tppo_audit_test", replace=True)
    stores = [Store(url), Store(url)]
    for store in stores:
        await store.open()
    try:
        replicas = [AuditLog(store) for store in stores]
        await asyncio.gather(*(log.open() for log in replicas))
        principal = Principal(subject="pg", role="coordinator", purpose="investigation")
        await asyncio.gather(*(replicas[i % 2].append(principal, f"q{i}", []) for i in range(30)))
        report = await replicas[0].verify()
        assert report.ok and report.entries == 30 and report.head_id == 30
        async with stores[1].engine.begin() as conn:
            await conn.execute(text("UPDATE audit_log SET role = 'admin' WHERE id = 7"))
        assert any("entry 7" in p for p in (await replicas[1].verify()).problems)
    finally:
        for store in stores:
            await store.close()
