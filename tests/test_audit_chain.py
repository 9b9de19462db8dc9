"""The audit chain on a bare store: appends, exact verify reports for every forgery, and paging.

No hub and no demo world: an :class:`AuditLog` on a fresh SQLite store, entries appended for
hand-made reads, tampering done with plain SQL, and the expected hash computed here from the
format the module docstring of hub/access/audit.py documents (SHA-256 of the compact JSON of
id, at, subject, role, agency, purpose, credential, query hash, record ids and fields, then
``|`` and the previous hash). Every covered column is forged *with the hash recomputed*, as an
intruder who knows the format would, and the report must name exactly the broken link.
``tests/test_audit.py`` and ``tests/test_audit_forgery.py`` check the same chain through GraphQL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hub.access.audit import (
    GENESIS,
    AuditFilter,
    AuditLog,
    AuditUnavailable,
    decode_audit_cursor,
    encode_audit_cursor,
    query_hash,
)
from hub.access.policy import PersonalRead, Principal
from hub.engine.ids import InvalidId, encode_number_cursor
from hub.storage.store import Store

DINA = Principal(
    subject="dinà", role="coordinator", agency="KEMENPPPA", purpose="investigation", token_id="t1"
)
BUDI = Principal(subject="budi", role="caseworker", agency="POLRI", purpose=None, api_key_id="k9")
COVERED = (
    "id",
    "at",
    "subject",
    "role",
    "agency",
    "purpose",
    "credential",
    "query_hash",
    "record_ids",
    "fields",
)


def documented_hash(row: dict[str, Any], prev_hash: str | None = None) -> str:
    """The documented chain hash of a stored row (JSON list columns decoded)."""
    values = [json.loads(row[c]) if c in ("record_ids", "fields") else row[c] for c in COVERED]
    payload = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    previous = row["prev_hash"] if prev_hash is None else prev_hash
    return hashlib.sha256(f"{payload}|{previous}".encode()).hexdigest()


def reads(*pairs: tuple[str, str]) -> list[PersonalRead]:
    return [PersonalRead(record, field, ("node", field)) for record, field in pairs]


@pytest.fixture(autouse=True)
def jakarta_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hub's local time is WIB (UTC+7, no daylight saving), as on a server in Jakarta: the log
    must still be in UTC, and naive filter times must still be read as UTC."""
    monkeypatch.setenv("TZ", "Asia/Jakarta")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[AuditLog]:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    await store.open()
    audit = AuditLog(store)
    await audit.open()
    try:
        yield audit
    finally:
        await store.close()


async def sql(log: AuditLog, statement: str, **params: Any) -> list[dict[str, Any]]:
    async with log.store.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return [dict(r._mapping) for r in result] if result.returns_rows else []


async def rows(log: AuditLog) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in await sql(log, "SELECT * FROM audit_log ORDER BY id")}


async def fill(log: AuditLog, n: int = 5) -> None:
    for k in range(1, n + 1):
        who = DINA if k % 2 else BUDI
        await log.append(
            who, f"query Q{k} {{ x }}", reads((f"polri:person:{k}", "nik"), ("polri:person:0", "sex"))
        )


async def problems(log: AuditLog, batch: int = 5000) -> list[str]:
    return (await log.verify(batch)).problems


# --- appending -----------------------------------------------------------------------------------


async def test_an_append_stores_the_documented_entry(log: AuditLog) -> None:
    before = datetime.now(UTC)
    entry = await log.append(
        DINA,
        "query Q { x }",
        reads(("polri:person:2", "nik"), ("polri:person:1", "fullName"), ("polri:person:2", "fullName")),
    )
    after = datetime.now(UTC)
    assert (entry.id, entry.subject, entry.role, entry.agency, entry.purpose, entry.credential) == (
        1,
        "dinà",
        "coordinator",
        "KEMENPPPA",
        "investigation",
        "jwt:t1",
    )
    assert entry.record_ids == ("polri:person:1", "polri:person:2")  # sorted, each once
    assert entry.fields == ("fullName", "nik")
    assert entry.query_hash == hashlib.sha256(b"query Q { x }").hexdigest() == query_hash("query Q { x }")
    assert entry.prev_hash == GENESIS == "0" * 64
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry.at)
    assert before <= entry.at_datetime <= after  # the moment of the append, in UTC
    stored = (await rows(log))[1]
    assert {c: stored[c] for c in COVERED if c not in ("record_ids", "fields")} == {
        "id": 1,
        "at": entry.at,
        "subject": "dinà",
        "role": "coordinator",
        "agency": "KEMENPPPA",
        "purpose": "investigation",
        "credential": "jwt:t1",
        "query_hash": entry.query_hash,
    }
    assert json.loads(stored["record_ids"]) == ["polri:person:1", "polri:person:2"]
    assert json.loads(stored["fields"]) == ["fullName", "nik"]
    assert stored["prev_hash"] == GENESIS
    assert stored["hash"] == entry.hash == documented_hash(stored)
    index = await sql(log, "SELECT entry_id, record_id FROM audit_record ORDER BY record_id")
    assert index == [
        {"entry_id": 1, "record_id": "polri:person:1"},
        {"entry_id": 1, "record_id": "polri:person:2"},
    ]
    assert await sql(log, "SELECT id, last_id, last_hash FROM audit_head") == [
        {"id": 1, "last_id": 1, "last_hash": entry.hash}
    ]


async def test_each_append_links_to_the_one_before(log: AuditLog) -> None:
    first = await log.append(DINA, "q1", reads(("polri:person:1", "nik")))
    second = await log.append(BUDI, None, [])  # no query text, no records: still an entry
    assert (second.id, second.prev_hash) == (2, first.hash)
    assert second.query_hash == hashlib.sha256(b"").hexdigest()
    assert (second.record_ids, second.fields, second.credential, second.purpose) == (
        (),
        (),
        "api_key:k9",
        None,
    )
    stored = await rows(log)
    assert stored[2]["hash"] == documented_hash(stored[2], first.hash)
    assert await sql(log, "SELECT count(*) AS n FROM audit_record WHERE entry_id = 2") == [{"n": 0}]
    assert (await log.verify()).ok  # an entry without records has no index rows, and needs none
    assert await sql(log, "SELECT last_id, last_hash FROM audit_head") == [
        {"last_id": 2, "last_hash": second.hash}
    ]


async def test_the_chain_head_is_row_one_whatever_else_the_table_holds(tmp_path: Path) -> None:
    """A stray row in the head table (another id) neither stands in for the head nor moves it."""
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    await store.open()
    try:
        async with store.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (2, 9, :h)"), {"h": "9" * 64}
            )
        audit = AuditLog(store)
        await audit.open()
        first = await audit.append(DINA, "q", [])
        assert (first.id, first.prev_hash) == (1, GENESIS)
        async with store.engine.connect() as conn:
            heads = (await conn.execute(text("SELECT id, last_id FROM audit_head ORDER BY id"))).all()
        assert [tuple(h) for h in heads] == [(1, 1), (2, 9)]
        assert (await audit.verify()).ok
    finally:
        await store.close()


async def test_opening_twice_keeps_the_head(log: AuditLog) -> None:
    await fill(log, 2)
    head = await sql(log, "SELECT * FROM audit_head")
    await log.open()
    await AuditLog(log.store).open()  # another replica on the same store
    assert await sql(log, "SELECT * FROM audit_head") == head
    assert (await log.append(DINA, "q", [])).id == 3


async def test_an_append_that_cannot_be_written_is_refused_and_leaves_no_trace(
    log: AuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    await fill(log, 2)
    head = await sql(log, "SELECT * FROM audit_head")
    await sql(log, "DROP TABLE audit_record")
    with caplog.at_level(logging.ERROR, logger="tppo_hub.audit"), pytest.raises(AuditUnavailable) as raised:
        await log.append(DINA, "query Secret { nik }", reads(("polri:person:7", "nik")))
    assert str(raised.value) == "audit log unavailable"
    assert [r.getMessage() for r in caplog.records] == ["audit append failed (OperationalError)"]
    assert await sql(log, "SELECT * FROM audit_head") == head  # the transaction rolled back
    assert sorted(await rows(log)) == [1, 2]


async def test_an_append_without_a_chain_head_is_refused(log: AuditLog) -> None:
    await sql(log, "DELETE FROM audit_head")
    with pytest.raises(AuditUnavailable) as raised:
        await log.append(DINA, "q", [])
    assert str(raised.value) == "audit chain head missing"


# --- verifying -----------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 2, 5000])
async def test_an_intact_chain_verifies_in_any_batch_size(log: AuditLog, batch: int) -> None:
    await fill(log, 5)
    last = (await rows(log))[5]["hash"]
    report = await log.verify(batch)
    assert (report.entries, report.head_id, report.head_hash, report.problems, report.ok) == (
        5,
        5,
        last,
        [],
        True,
    )


async def test_an_empty_log_verifies(log: AuditLog) -> None:
    report = await log.verify()
    assert (report.entries, report.head_id, report.head_hash, report.problems, report.ok) == (
        0,
        0,
        GENESIS,
        [],
        True,
    )


FORGED = {
    "at": "2020-01-01T00:00:00.000000Z",
    "subject": "someone-else",
    "role": "admin",
    "agency": "BP2MI",
    "purpose": "curiosity",
    "credential": "api_key:forged",
    "query_hash": "0" * 64,
    "fields": '["sex"]',
}


@pytest.mark.parametrize("column", sorted(FORGED))
async def test_a_column_edited_without_rehashing_breaks_its_entry(log: AuditLog, column: str) -> None:
    await fill(log)
    await sql(log, f"UPDATE audit_log SET {column} = :v WHERE id = 3", v=FORGED[column])
    assert await problems(log) == ["entry 3: content does not match its hash"]


@pytest.mark.parametrize("column", sorted(FORGED))
@pytest.mark.parametrize("batch", [2, 5000])
async def test_a_column_forged_and_rehashed_breaks_the_next_link(
    log: AuditLog, column: str, batch: int
) -> None:
    await fill(log)
    forged = {**(await rows(log))[3], column: FORGED[column]}
    await sql(
        log,
        f"UPDATE audit_log SET {column} = :v, hash = :h WHERE id = 3",
        v=FORGED[column],
        h=documented_hash(forged),
    )
    assert await problems(log, batch) == ["entry 4: does not link to the entry before it"]


async def test_record_ids_forged_with_their_index_and_rehashed_break_the_next_link(log: AuditLog) -> None:
    """The intruder hides which victim was read: entry, index and hash all rewritten."""
    await fill(log)
    forged = {**(await rows(log))[2], "record_ids": '["polri:person:0","polri:person:decoy"]'}
    await sql(
        log,
        "UPDATE audit_log SET record_ids = :r, hash = :h WHERE id = 2",
        r=forged["record_ids"],
        h=documented_hash(forged),
    )
    await sql(
        log,
        "UPDATE audit_record SET record_id = 'polri:person:decoy' "
        "WHERE entry_id = 2 AND record_id = 'polri:person:2'",
    )
    assert await problems(log) == ["entry 3: does not link to the entry before it"]
    # Without the re-hash the entry itself breaks; without the index the index differs too.
    await sql(log, "UPDATE audit_log SET hash = 'x' WHERE id = 2")
    await sql(
        log, "UPDATE audit_record SET record_id = 'polri:person:2' WHERE record_id = 'polri:person:decoy'"
    )
    assert await problems(log) == [
        "entry 2: content does not match its hash",
        "entry 2: record index differs from the entry",
        "entry 3: does not link to the entry before it",
    ]


async def test_the_last_entry_forged_and_rehashed_breaks_the_head(log: AuditLog) -> None:
    await fill(log)
    forged = {**(await rows(log))[5], "subject": "someone-else"}
    await sql(
        log,
        "UPDATE audit_log SET subject = 'someone-else', hash = :h WHERE id = 5",
        h=documented_hash(forged),
    )
    assert await problems(log) == ["chain head names entry 5 but the log ends at entry 5"]


async def test_a_rechained_forgery_is_caught_by_the_one_link_it_cannot_forge(log: AuditLog) -> None:
    """Entries 3-5 re-hashed over a forged prev_hash and the head updated: only 2 → 3 tells."""
    await fill(log)
    stored = await rows(log)
    prev = "1" * 64
    for n in (3, 4, 5):
        digest = documented_hash(stored[n], prev)
        await sql(log, "UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :n", p=prev, h=digest, n=n)
        prev = digest
    await sql(log, "UPDATE audit_head SET last_hash = :h", h=prev)
    assert await problems(log) == ["entry 3: does not link to the entry before it"]


async def test_a_stored_hash_replaced_breaks_its_entry_and_the_next_link(log: AuditLog) -> None:
    await fill(log)
    await sql(log, "UPDATE audit_log SET hash = :h WHERE id = 3", h="f" * 64)
    assert await problems(log) == [
        "entry 3: content does not match its hash",
        "entry 4: does not link to the entry before it",
    ]


async def test_a_deleted_entry_leaves_a_gap(log: AuditLog) -> None:
    await fill(log)
    await sql(log, "DELETE FROM audit_record WHERE entry_id = 3")
    await sql(log, "DELETE FROM audit_log WHERE id = 3")
    assert await problems(log, 2) == [
        "entry 3: missing (the next entry is 4)",
        "entry 4: does not link to the entry before it",
    ]


async def test_a_truncated_tail_disagrees_with_the_head(log: AuditLog) -> None:
    await fill(log)
    await sql(log, "DELETE FROM audit_record WHERE entry_id = 5")
    await sql(log, "DELETE FROM audit_log WHERE id = 5")
    report = await log.verify()
    assert report.problems == ["chain head names entry 5 but the log ends at entry 4"]
    assert (report.entries, report.head_id) == (4, 5)


async def test_a_missing_head_is_reported(log: AuditLog) -> None:
    await fill(log, 2)
    await sql(log, "DELETE FROM audit_head")
    report = await log.verify()
    assert report.problems == ["chain head missing"]
    assert (report.head_id, report.head_hash) == (0, GENESIS)


async def test_a_head_naming_another_entry_is_reported(log: AuditLog) -> None:
    await fill(log)
    await sql(log, "UPDATE audit_head SET last_id = 4")
    assert await problems(log) == ["chain head names entry 4 but the log ends at entry 5"]


async def test_the_record_index_must_match_each_entry(log: AuditLog) -> None:
    await fill(log)
    await sql(log, "DELETE FROM audit_record WHERE entry_id = 2 AND record_id = 'polri:person:0'")
    await sql(log, "INSERT INTO audit_record (entry_id, record_id) VALUES (4, 'polri:person:9')")
    assert await problems(log, 2) == [
        "entry 2: record index differs from the entry",
        "entry 4: record index differs from the entry",
    ]


async def test_an_index_naming_a_missing_entry_is_reported(log: AuditLog) -> None:
    await fill(log)
    async with log.store.engine.connect() as conn:
        await conn.execute(text("PRAGMA foreign_keys = OFF"))
        await conn.execute(text("DELETE FROM audit_log WHERE id = 3"))  # its index rows stay
        await conn.execute(
            text("INSERT INTO audit_record (entry_id, record_id) VALUES (9, 'polri:person:9')")
        )
        await conn.commit()
    assert await problems(log, 2) == [
        "entry 3: missing (the next entry is 4)",
        "entry 4: does not link to the entry before it",
        "entry 3: record index names a missing entry",
        "entry 9: record index names a missing entry",
    ]


@pytest.mark.parametrize("value", ["not json", '{"a": 1}', '"polri:person:2"'])
async def test_record_ids_that_are_not_a_json_list_read_as_none(log: AuditLog, value: str) -> None:
    await fill(log, 2)
    await sql(log, "UPDATE audit_log SET record_ids = :v WHERE id = 2", v=value)
    assert (await log.entries(AuditFilter(), 1)).entries[0].record_ids == ()
    assert await problems(log) == [
        "entry 2: content does not match its hash",
        "entry 2: record index differs from the entry",
    ]


async def test_fields_are_read_back_as_text(log: AuditLog) -> None:
    """A stored JSON list of numbers reads as their text: a forged type is still a changed entry."""
    await fill(log, 2)
    await sql(log, "UPDATE audit_log SET fields = '[1, 2]' WHERE id = 2")
    assert (await log.entries(AuditFilter(), 1)).entries[0].fields == ("1", "2")
    assert await problems(log) == ["entry 2: content does not match its hash"]


async def test_reports_stop_at_fifty_problems(log: AuditLog) -> None:
    await fill(log, 60)
    await sql(log, "UPDATE audit_log SET purpose = 'curiosity'")
    report = await log.verify(7)
    assert report.entries == 60
    assert report.problems == [f"entry {n}: content does not match its hash" for n in range(1, 51)]


# --- reading -------------------------------------------------------------------------------------


async def _dated(log: AuditLog) -> None:
    """Four entries on 1-4 January 2024, midnight UTC (entries() does not verify the chain)."""
    await fill(log, 4)
    for n in range(1, 5):
        await sql(
            log, "UPDATE audit_log SET at = :at WHERE id = :n", at=f"2024-01-0{n}T00:00:00.000000Z", n=n
        )


def ids(page: Any) -> list[int]:
    return [e.id for e in page.entries]


async def test_entries_newest_first_in_keyset_pages(log: AuditLog) -> None:
    await fill(log, 4)
    first = await log.entries(AuditFilter(), 2)
    assert (ids(first), first.has_next) == ([4, 3], True)
    last = await log.entries(AuditFilter(), 2, after=3)
    assert (ids(last), last.has_next) == ([2, 1], False)  # an exactly full last page
    assert (ids(await log.entries(AuditFilter(), 4)), (await log.entries(AuditFilter(), 4)).has_next) == (
        [4, 3, 2, 1],
        False,
    )
    assert (await log.entries(AuditFilter(), 3)).has_next is True
    assert ids(await log.entries(AuditFilter(), 5, after=1)) == []
    entry = (await log.entries(AuditFilter(), 1)).entries[0]
    assert entry.record_ids == ("polri:person:0", "polri:person:4") and entry.fields == ("nik", "sex")
    assert entry.hash == (await rows(log))[4]["hash"]


async def test_entries_filtered_by_who_and_which_record(log: AuditLog) -> None:
    await fill(log, 4)  # odd entries by dina (KEMENPPPA), even by budi (POLRI)
    assert ids(await log.entries(AuditFilter(subject="dinà"), 10)) == [3, 1]
    assert ids(await log.entries(AuditFilter(role="caseworker"), 10)) == [4, 2]
    assert ids(await log.entries(AuditFilter(agency="KEMENPPPA"), 10)) == [3, 1]
    assert ids(await log.entries(AuditFilter(record_id="polri:person:2"), 10)) == [2]
    assert ids(await log.entries(AuditFilter(record_id="polri:person:0"), 10)) == [4, 3, 2, 1]
    assert ids(await log.entries(AuditFilter(subject="dinà", agency="POLRI"), 10)) == []


async def test_entries_between_two_moments_inclusive(log: AuditLog) -> None:
    await _dated(log)
    assert ids(await log.entries(AuditFilter(since=datetime(2024, 1, 2, tzinfo=UTC)), 10)) == [4, 3, 2]
    assert ids(await log.entries(AuditFilter(until=datetime(2024, 1, 3, tzinfo=UTC)), 10)) == [3, 2, 1]
    # A naive time is UTC; another zone is converted (07:00 in UTC+7 is midnight UTC).
    assert ids(await log.entries(AuditFilter(since=datetime(2024, 1, 2)), 10)) == [4, 3, 2]
    assert ids(await log.entries(AuditFilter(until=datetime(2024, 1, 3)), 10)) == [3, 2, 1]
    wib = timezone(timedelta(hours=7))
    assert ids(await log.entries(AuditFilter(since=datetime(2024, 1, 2, 7, tzinfo=wib)), 10)) == [4, 3, 2]
    assert ids(await log.entries(AuditFilter(until=datetime(2024, 1, 3, 6, 59, tzinfo=wib)), 10)) == [2, 1]
    both = AuditFilter(since=datetime(2024, 1, 2, tzinfo=UTC), until=datetime(2024, 1, 2, tzinfo=UTC))
    assert ids(await log.entries(both, 10)) == [2]


def test_audit_cursors_are_number_cursors_of_the_audit_list() -> None:
    assert encode_audit_cursor(7) == encode_number_cursor("audit", 7)
    assert decode_audit_cursor(encode_audit_cursor(2**63 - 1)) == 2**63 - 1
    with pytest.raises(InvalidId, match="cursor was produced for another list"):
        decode_audit_cursor(encode_number_cursor("persons", 7))
