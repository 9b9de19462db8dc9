"""Asking for the victims of cases does not read the suspects' table (issue 13).

The simfoni mapping has two person parts: ``korban`` (every row a VICTIM) and ``pelaku``
(every row a SUSPECT). A page that selects only victims must not read ``pelaku`` — neither a
statement of its own nor a part of the page's (a page of one source reads its relations in
its own statement: :mod:`adapters.pagewith`) — and still return exactly the victims the
database holds for each case (counted here with direct SQL on the agency's file); selecting
perpetrators too reads both tables, and the victims are the same either way.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from hub.engine.ids import GlobalId
from tests.statements import recorded

QUERY = """{
  cases(first: 40, filter: {agencies: ["KEMENPPPA"]}) {
    edges { node { id victims { id roles } %s } }
  }
}"""


def tables_read(statements: list[str]) -> set[str]:
    return {table for table in ("korban", "pelaku") for s in statements if f"FROM {table}" in s}


async def run(hub: Any, extra: str) -> tuple[dict[str, Any], list[str]]:
    with recorded(hub.registry.get("simfoni").source) as sent:
        result = await hub.execute(QUERY % extra)
    assert not result.errors, result.errors
    return result.data, [statement for statement, _parameters in sent]


def victims_by_case(data: dict[str, Any]) -> dict[str, list[str]]:
    return {
        GlobalId.decode(e["node"]["id"]).key: sorted(
            GlobalId.decode(v["id"]).key for v in e["node"]["victims"]
        )
        for e in data["cases"]["edges"]
    }


async def test_victims_alone_do_not_read_the_suspects_table(hub: Any, demo_dir: Path) -> None:
    alone, sent_alone = await run(hub, "")
    both, sent_both = await run(hub, "perpetrators { id roles }")
    assert tables_read(sent_alone) == {"korban"}
    assert tables_read(sent_both) == {"korban", "pelaku"}
    assert len(sent_alone) == len(sent_both) == 1  # one source: the page carries its relations
    assert victims_by_case(alone) == victims_by_case(both)

    cases = list(victims_by_case(alone))
    db = sqlite3.connect(demo_dir / "simfoni.sqlite")
    try:
        marks = ",".join("?" * len(cases))
        rows = db.execute(
            f"SELECT id_kasus, id_korban FROM korban WHERE id_kasus IN ({marks})", cases
        ).fetchall()
        suspects = db.execute(f"SELECT id_kasus FROM pelaku WHERE id_kasus IN ({marks})", cases).fetchall()
    finally:
        db.close()
    expected: dict[str, list[str]] = {case: [] for case in cases}
    for case, victim in rows:
        expected[str(case)].append(f"korban/{victim}")  # keys of a multi-part entity name their part
    assert victims_by_case(alone) == {case: sorted(v) for case, v in expected.items()}
    assert sum(1 for _ in suspects) > 0  # the page has suspects that the first query did not read
    perpetrators = Counter(
        GlobalId.decode(e["node"]["id"]).key
        for e in both["cases"]["edges"]
        for _ in e["node"]["perpetrators"]
    )
    assert sum(perpetrators.values()) == len(suspects)
