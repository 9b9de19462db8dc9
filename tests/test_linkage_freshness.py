"""No silent surprises: answers that depend on record linkage say how current it is.

A demo world of its own (so the state of the shared session hub does not matter): before
linkage, ``persons`` and ``statistics(measure: VICTIMS)`` say NOT_RUN; after a run, CURRENT;
when a source changes after the run, or counted records are missing from the index, STALE —
in the field ``linkage`` and in ``extensions.linkage``.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, distinct, func, select

from hub.access.policy import Principal
from hub.demo.generate import generate
from hub.engine.config import load_config
from hub.linkage.index import linkage_record, linkage_run
from hub.server.app import Hub
from tests.linkage_helpers import run_job

COORDINATOR = Principal(subject="t", role="coordinator", agency="KEMENPPPA", purpose="COORDINATION")
LPSK_COORDINATOR = Principal(subject="t", role="coordinator", agency="LPSK", purpose="COORDINATION")
QUERY = """
query Freshness {
  persons(first: 1) { totalCount linkage { state lastRunAt changedSources unlinkedRecords message } }
  statistics(measure: VICTIMS, groupBy: [SEX]) {
    total linkage { state changedSources unlinkedRecords message }
  }
}
"""
RECORDS = """
query Records { statistics(measure: VICTIM_RECORDS, groupBy: [AGENCY]) { total linkage { state } } }
"""


@pytest.fixture(scope="module")
async def fresh_hub(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Hub, Path]]:
    out = tmp_path_factory.mktemp("freshness")
    generate(out, seed=7, scale=0.3)
    hub = Hub(load_config(out / "hub.toml"))
    await hub.start()
    yield hub, out
    await hub.stop()


async def ask(hub: Hub, query: str = QUERY, principal: Principal = COORDINATOR) -> tuple[dict[str, Any], Any]:
    result = await hub.execute(query, None, principal)
    assert not result.errors, [e.formatted for e in result.errors]
    assert result.data is not None
    return result.data, result.extensions


async def _before_linkage_both_say_not_run(fresh_hub: tuple[Hub, Path]) -> None:
    hub, _ = fresh_hub
    data, extensions = await ask(hub)
    records, _ = await ask(hub, RECORDS)
    assert data["persons"]["totalCount"] == 0
    assert data["persons"]["linkage"]["state"] == "NOT_RUN"
    assert data["persons"]["linkage"]["lastRunAt"] is None
    assert "tppo-hub link" in data["persons"]["linkage"]["message"]
    victims = data["statistics"]
    assert victims["linkage"]["state"] == "NOT_RUN"
    # Every victim record counts as a person of its own, and the answer says how many.
    assert victims["total"] == records["statistics"]["total"] == victims["linkage"]["unlinkedRecords"]
    assert extensions["linkage"]["state"] == "NOT_RUN"
    assert records["statistics"]["linkage"] is None  # records need no linkage


async def _after_a_run_both_say_current(fresh_hub: tuple[Hub, Path]) -> None:
    hub, _ = fresh_hub
    await run_job(hub, full=True)
    data, extensions = await ask(hub)
    async with hub.store.engine.connect() as conn:
        persons = (await conn.execute(select(func.count(distinct(linkage_record.c.person_id))))).scalar_one()
        finished = (
            await conn.execute(select(linkage_run.c.finished_at).where(linkage_run.c.status == "ok"))
        ).all()
    everyone, _ = await ask(hub, principal=LPSK_COORDINATOR)  # protection staff: every record
    assert persons > 0 and everyone["persons"]["totalCount"] == persons
    assert data["persons"]["linkage"]["state"] == "CURRENT"
    # The one run's end, as the run table holds it (SQLite keeps it without its UTC offset).
    assert len(finished) == 1
    assert datetime.fromisoformat(data["persons"]["linkage"]["lastRunAt"]) == finished[0][0].replace(
        tzinfo=UTC
    )
    assert data["statistics"]["linkage"] == {
        "state": "CURRENT",
        "changedSources": [],
        "unlinkedRecords": 0,
        "message": "Linkage is current.",
    }
    assert extensions["linkage"]["state"] == "CURRENT"


async def _records_missing_from_the_index_make_victims_stale(fresh_hub: tuple[Hub, Path]) -> None:
    hub, _ = fresh_hub
    before, _ = await ask(hub)
    async with hub.store.engine.begin() as conn:
        victims = (
            await conn.execute(
                select(linkage_record.c.source, linkage_record.c.record_key)
                # Police victims: counted for every role (no protected-witness rule applies).
                .where(linkage_record.c.roles == "VICTIM", linkage_record.c.source == "polri")
                .limit(3)
            )
        ).all()
        for source, key in victims:
            await conn.execute(
                delete(linkage_record).where(
                    (linkage_record.c.source == source) & (linkage_record.c.record_key == key)
                )
            )
    data, extensions = await ask(hub)
    linkage = data["statistics"]["linkage"]
    assert linkage["state"] == "STALE"
    assert linkage["unlinkedRecords"] == 3
    assert extensions["linkage"]["unlinkedRecords"] == 3
    assert "3 of the counted records are not linked yet" in linkage["message"]
    # Roles with protected statistics learn that it is stale, not how many records.
    analyst, _ = await ask(hub, principal=Principal(role="analyst"))
    assert analyst["statistics"]["linkage"]["state"] == "STALE"
    assert analyst["statistics"]["linkage"]["unlinkedRecords"] is None
    await run_job(hub)  # incremental: links the three again
    again, _ = await ask(hub)
    assert again["statistics"]["linkage"]["state"] == "CURRENT"
    assert again["statistics"]["total"] == before["statistics"]["total"]


async def _a_source_changed_after_the_run_makes_both_stale(fresh_hub: tuple[Hub, Path]) -> None:
    hub, out = fresh_hub
    database = out / "polri.sqlite"
    later = time.time() + 60
    os.utime(database, (later, later))
    data, extensions = await ask(hub)
    for answer in (data["persons"]["linkage"], data["statistics"]["linkage"]):
        assert answer["state"] == "STALE"
        assert answer["changedSources"] == ["polri"]
        assert "polri" in answer["message"]
    assert extensions["linkage"]["changedSources"] == ["polri"]


async def test_linkage_state_through_its_life(fresh_hub: tuple[Hub, Path]) -> None:
    """One world, in order: never linked, linked, records missing, a source changed."""
    await _before_linkage_both_say_not_run(fresh_hub)
    await _after_a_run_both_say_current(fresh_hub)
    await _records_missing_from_the_index_make_victims_stale(fresh_hub)
    await _a_source_changed_after_the_run_makes_both_stale(fresh_hub)
