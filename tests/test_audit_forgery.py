"""Audit forgery: every covered column is in the hash, and a re-hashed forgery breaks the chain.

The tamper tests in test_audit.py edit a column and leave the stored hash alone. An intruder
who knows the (published) hash format recomputes it, and rewrites the record index along with
``record_ids``. These tests do that with plain SQL and an independent implementation of the
documented hash (module docstring of hub/access/audit.py), and expect the exact problems
``verify`` must report.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hub.access.audit import GENESIS, entry_hash
from hub.access.policy import Principal
from hub.engine.config import parse_config
from hub.engine.ids import encode_id
from hub.server.app import Hub
from hub.vocabulary.model import Entity
from tests.test_ground_truth import truth_person_key

READ = "query($id: ID!) { node(id: $id) { ... on PersonRecord { id sex fullName nik } } }"
COORDINATOR = Principal(subject="dina", role="coordinator", agency="KEMENPPPA", purpose="investigation")
COLUMNS = (
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
    """SHA-256 of the canonical JSON of the covered columns, then ``|`` and the previous hash."""
    values = [row[c] if c not in ("record_ids", "fields") else json.loads(row[c]) for c in COLUMNS]
    payload = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{payload}|{prev_hash or row['prev_hash']}".encode()).hexdigest()


@pytest.fixture
async def chain(demo_dir: Path, tmp_path: Path, truth: dict[str, Any]) -> AsyncIterator[Hub]:
    """A hub over POLRI with a store of its own and five audit entries (one person each)."""
    shutil.copy(demo_dir / "polri.sqlite", tmp_path / "polri.sqlite")
    config = parse_config(
        {"sources": [{"name": "polri", "mapping": "polri", "url": "sqlite:///polri.sqlite"}]}, tmp_path
    )
    hub = Hub(config)
    await hub.start()
    try:
        for person in truth["agencies"]["polri"]["persons"][:5]:
            gid = encode_id("polri", Entity.PERSON, truth_person_key("polri", person))
            result = await hub.execute(READ, {"id": gid}, COORDINATOR)
            assert result.errors is None
        yield hub
    finally:
        await hub.stop()


async def sql(hub: Hub, statement: str, **params: Any) -> list[dict[str, Any]]:
    async with hub.store.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return [dict(r._mapping) for r in result] if result.returns_rows else []


async def rows(hub: Hub) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in await sql(hub, "SELECT * FROM audit_log ORDER BY id")}


async def problems(hub: Hub) -> list[str]:
    return (await hub.audit.verify()).problems


# --- the hash itself ---------------------------------------------------------------------------


async def test_stored_hashes_follow_the_documented_formula(chain: Hub) -> None:
    log = await rows(chain)
    assert sorted(log) == [1, 2, 3, 4, 5]
    prev = GENESIS
    for n in sorted(log):
        assert log[n]["prev_hash"] == prev
        assert log[n]["hash"] == documented_hash(log[n], prev)
        prev = log[n]["hash"]
    head = await sql(chain, "SELECT last_id, last_hash FROM audit_head")
    assert head == [{"last_id": 5, "last_hash": prev}]


BASE = {
    "id": 7,
    "at": "2024-01-02T03:04:05.000006Z",
    "subject": "dina",
    "role": "coordinator",
    "agency": "KEMENPPPA",
    "purpose": "investigation",
    "credential": "jwt:abc",
    "query_hash": "f" * 64,
    "record_ids": ("polri:person:1", "polri:person:2"),
    "fields": ("fullName", "nik"),
    "prev_hash": "a" * 64,
}
CHANGED = {
    "id": 8,
    "at": "2024-01-02T03:04:05.000007Z",
    "subject": "dino",
    "role": "caseworker",
    "agency": "POLRI",
    "purpose": None,
    "credential": "jwt:abd",
    "query_hash": "e" * 64,
    "record_ids": ("polri:person:1",),
    "fields": ("fullName",),
    "prev_hash": "b" * 64,
}


def test_entry_hash_is_the_documented_one() -> None:
    row = {
        **BASE,
        "record_ids": json.dumps(list(BASE["record_ids"])),
        "fields": json.dumps(list(BASE["fields"])),
    }
    assert entry_hash(**BASE) == documented_hash(row)


@pytest.mark.parametrize("column", sorted(CHANGED))
def test_every_covered_column_changes_the_hash(column: str) -> None:
    assert entry_hash(**{**BASE, column: CHANGED[column]}) != entry_hash(**BASE)


# --- forgeries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("at", "2020-01-01T00:00:00.000000Z"),
        ("subject", "someone-else"),
        ("role", "admin"),
        ("agency", "POLRI"),
        ("purpose", "curiosity"),
        ("credential", "api-key:forged"),
        ("query_hash", "0" * 64),
        ("fields", '["nik"]'),
    ],
)
async def test_each_column_edited_alone_breaks_only_its_entry(chain: Hub, column: str, value: str) -> None:
    await sql(chain, f"UPDATE audit_log SET {column} = :v WHERE id = 3", v=value)
    assert await problems(chain) == ["entry 3: content does not match its hash"]


async def test_record_ids_rewritten_with_the_index_is_caught_by_the_hash(chain: Hub) -> None:
    """The intruder hides which victim was read: the entry and its index row both rewritten."""
    decoy = encode_id("polri", Entity.PERSON, "decoy")
    await sql(chain, "UPDATE audit_log SET record_ids = :r WHERE id = 2", r=json.dumps([decoy]))
    await sql(chain, "UPDATE audit_record SET record_id = :r WHERE entry_id = 2", r=decoy)
    assert await problems(chain) == ["entry 2: content does not match its hash"]


async def test_prev_hash_edited_is_a_broken_link(chain: Hub) -> None:
    await sql(chain, "UPDATE audit_log SET prev_hash = :p WHERE id = 3", p="1" * 64)
    assert await problems(chain) == [
        "entry 3: does not link to the entry before it",
        "entry 3: content does not match its hash",
    ]


async def test_rehashed_forgery_breaks_the_next_link(chain: Hub) -> None:
    """Entry 3's purpose changed and its hash recomputed correctly: entry 4 no longer links."""
    log = await rows(chain)
    forged = {**log[3], "purpose": "curiosity"}
    await sql(
        chain,
        "UPDATE audit_log SET purpose = :p, hash = :h WHERE id = 3",
        p="curiosity",
        h=documented_hash(forged),
    )
    assert await problems(chain) == ["entry 4: does not link to the entry before it"]


async def test_rehashed_forgery_of_the_last_entry_breaks_the_head(chain: Hub) -> None:
    log = await rows(chain)
    forged = {**log[5], "subject": "someone-else"}
    await sql(
        chain,
        "UPDATE audit_log SET subject = :s, hash = :h WHERE id = 5",
        s="someone-else",
        h=documented_hash(forged),
    )
    assert await problems(chain) == ["chain head names entry 5 but the log ends at entry 5"]


async def test_forged_entry_rehashed_onto_a_forged_link_is_caught_by_the_link(chain: Hub) -> None:
    """Entry 3 re-hashed over a forged prev_hash, and 4 and 5 re-chained, head updated: only the
    link from 2 to 3 can tell."""
    log = await rows(chain)
    prev = "1" * 64
    for n in (3, 4, 5):
        forged = {**log[n], "prev_hash": prev}
        digest = documented_hash(forged)
        await sql(
            chain, "UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :n", p=prev, h=digest, n=n
        )
        prev = digest
    await sql(chain, "UPDATE audit_head SET last_hash = :h", h=prev)
    assert await problems(chain) == ["entry 3: does not link to the entry before it"]


async def test_an_entry_re_numbered_leaves_a_gap(chain: Hub) -> None:
    await sql(chain, "DELETE FROM audit_record WHERE entry_id = 3")
    await sql(chain, "DELETE FROM audit_log WHERE id = 3")
    assert await problems(chain) == [
        "entry 3: missing (the next entry is 4)",
        "entry 4: does not link to the entry before it",
    ]
