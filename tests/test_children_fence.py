"""Children of a page are computed once per row on PostgreSQL (issue 13).

On the plain value layer PostgreSQL moves the relation's condition into the layer and flattens
it, then computes each value once for every place the outer SELECT names it (a victim's birth
and report dates three times a row: the dates, the age band, the child flag). The children's
statement puts the condition inside the layer itself and keeps it whole with ``OFFSET 0``.
That the answers do not change is proven by tests/test_postgres.py (every case with its
victims, perpetrators, witnesses and services, PostgreSQL against SQLite, which keeps the
plain layer) and here part by part against the plain layer's statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam

from adapters.compiler import convert_keys
from adapters.narrow import of_parents
from hub.vocabulary.model import CaseSearch, Entity
from tests.test_plan_cache import sent_with_parameters


async def test_the_victims_statement_keeps_its_layer_whole(pg_hub: Any) -> None:
    source = pg_hub.registry.get("simfoni").source
    page = await source.search_cases(CaseSearch(limit=20))
    keys = [case.key for case in page]
    sent = await sent_with_parameters(source, lambda: source.children(Entity.PERSON, "case_key", keys))
    assert sent
    for statement, _parameters in sent:
        layer_end = statement.rindex(") AS v_")
        assert "OFFSET 0" in statement[:layer_end], statement[-400:]
        assert " IN (" in statement[statement.index("FROM (SELECT") : layer_end], statement[-400:]
        assert "WHERE" not in statement[layer_end:], "no condition outside the layer"


async def test_every_part_gives_the_rows_of_the_plain_layer(pg_hub: Any) -> None:
    for entry in pg_hub.registry.all():
        source = entry.source
        page = await source.search_cases(CaseSearch(limit=30))
        parents = [case.key for case in page]
        for entity in (Entity.PERSON, Entity.SERVICE, Entity.STAGE_EVENT):
            for part in source.compiled.parts_of(entity):
                relation = part.relation_columns.get("case_key")
                if relation is None:
                    continue
                column, convert = relation
                keys = convert_keys(parents, convert)
                plain = part.select.where(column.in_(bindparam("keys", expanding=True))).order_by(
                    part.key_column
                )
                fenced = of_parents(part, column)
                assert str(fenced) != str(plain)
                want = await source.fetch(plain, {"keys": keys})
                got = await source.fetch(fenced, {"keys": keys})
                assert [tuple(r) for r in got] == [tuple(r) for r in want], (source.name, part.part.name)
