"""The keyset of one source (:mod:`adapters.keyset`) run on a table with undated cases.

The small demo world has no undated case and only SQLite sources, so the order rules for a
missing date and for a real DATE column are checked here: a case part of the world is pointed
at an in-memory SQLite table ``t(d, k)`` holding undated and dated rows, and every "after this
position" query is compared with the merged order written out in Python from the rule
(:class:`hub.vocabulary.model.Keyset`): (report date, source name, key), a missing date the
earliest. SQLite understands NULLS FIRST / LAST, so the explicit form is run as well.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from adapters.compiler import CompiledPart
from adapters.keyset import CaseOrder
from hub.server.app import Hub
from hub.vocabulary.model import Entity, Keyset, SortOrder
from tests import small_world

world = small_world.fixture()

ROWS = [(None, 1), (None, 4), ("2020-01-01", 1), ("2020-01-01", 3), ("2020-01-01", 7), ("2020-01-02", 2)]
SOURCE = "m"
table = sa.table("t", sa.column("d", sa.String), sa.column("k", sa.Integer))


@pytest.fixture(scope="module")
def part(world: tuple[Hub, dict[str, Any]]) -> CompiledPart:
    hub, _ = world
    source: Any = hub.federation.registry.get("polri").source  # type: ignore[union-attr]
    real = source.compiled.parts_of(Entity.CASE)[0]
    return replace(real, date_expr=table.c.d, key_column=table.c.k, key_to_db=int)


@pytest.fixture(scope="module")
def db() -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (d TEXT, k INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (:d, :k)"), [{"d": d, "k": k} for d, k in ROWS])
    return engine


def merged(day: str | None, source: str, key: int) -> tuple[int, str, str, int]:
    """The cross-source position, a missing date the earliest."""
    return (0, "", source, key) if day is None else (1, day, source, key)


POSITIONS = [
    (day, source, key)
    for day in (None, "2019-12-31", "2020-01-01", "2020-01-02", "2020-01-03")
    for source, key in (("a", 9), (SOURCE, 0), (SOURCE, 1), (SOURCE, 3), (SOURCE, 4), (SOURCE, 8), ("z", 0))
]


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("order", [SortOrder.ASC, SortOrder.DESC])
def test_after_every_position_with_undated_rows(
    part: CompiledPart, db: sa.Engine, order: SortOrder, explicit: bool
) -> None:
    descending = order is SortOrder.DESC
    case_order = CaseOrder(SOURCE, part, descending, table.c.d, explicit)
    everything = sorted(ROWS, key=lambda r: merged(r[0], SOURCE, r[1]), reverse=descending)
    with db.connect() as conn:
        ordered = [
            tuple(r) for r in conn.execute(sa.select(table.c.d, table.c.k).order_by(*case_order.order_by()))
        ]
        assert ordered == everything
        for day, source, key in POSITIONS:
            at = merged(day, source, key)
            want = [
                r
                for r in everything
                if (merged(r[0], SOURCE, r[1]) < at if descending else merged(r[0], SOURCE, r[1]) > at)
            ]
            position = Keyset(date.fromisoformat(day) if day else None, source, str(key))
            query = (
                sa.select(table.c.d, table.c.k)
                .where(case_order.after(position))
                .order_by(*case_order.order_by())
            )
            assert [tuple(r) for r in conn.execute(query)] == want, (order, day, source, key)


def test_the_order_said_per_dialect(part: CompiledPart) -> None:
    """SQLite's own NULL order is the one wanted; elsewhere NULLS FIRST / LAST is said
    (the canonical date may be NULL), ascending first, descending last."""
    pg = postgresql.dialect()
    for order, nulls, direction in (
        (SortOrder.ASC, "NULLS FIRST", "ASC"),
        (SortOrder.DESC, "NULLS LAST", "DESC"),
    ):
        lite = CaseOrder.of(SOURCE, part, order, "sqlite")
        assert not lite.explicit_nulls and lite.descending is (order is SortOrder.DESC)
        assert [str(c.compile(dialect=pg)) for c in lite.order_by()] == [
            f"t.d {direction}",
            f"t.k {direction}",
        ]
        other = CaseOrder.of(SOURCE, part, order, "postgresql")
        assert other.explicit_nulls and other.sort_day is part.date_expr
        assert [str(c.compile(dialect=pg)) for c in other.order_by()] == [
            f"t.d {direction} {nulls}",
            f"t.k {direction}",
        ]


@pytest.mark.parametrize("never_null", [False, True])
def test_a_date_column_is_ordered_by_itself(part: CompiledPart, never_null: bool) -> None:
    """A real DATE column (outside SQLite) is ordered by itself; NULLS is said unless NOT NULL.
    A timestamp, a child table's column or a date built from several columns is not."""
    raw = sa.column("reported", sa.Date)
    value = part.values["reported_at"]
    dated = replace(
        part,
        values={
            **part.values,
            "reported_at": replace(value, raw=(raw,), raw_never_null=never_null, from_child=False),
        },
    )
    order = CaseOrder.of(SOURCE, dated, SortOrder.ASC, "postgresql")
    assert order.sort_day is raw and order.explicit_nulls is not never_null
    # SQLite: a DATE column may hold any text, so the canonical date is what is ordered.
    lite = CaseOrder.of(SOURCE, dated, SortOrder.ASC, "sqlite")
    assert lite.sort_day is part.date_expr and not lite.explicit_nulls
    for other in (
        replace(
            value, raw=(sa.column("reported", sa.DateTime),), raw_never_null=never_null, from_child=False
        ),
        replace(value, raw=(raw,), raw_never_null=never_null, from_child=True),
        replace(value, raw=(raw, sa.column("other", sa.Date)), raw_never_null=never_null, from_child=False),
    ):
        order = CaseOrder.of(
            SOURCE, replace(part, values={**part.values, "reported_at": other}), SortOrder.ASC, "postgresql"
        )
        assert order.sort_day is part.date_expr and order.explicit_nulls
    missing = {k: v for k, v in part.values.items() if k != "reported_at"}
    order = CaseOrder.of(SOURCE, replace(part, values=missing), SortOrder.DESC, "postgresql")
    assert order.sort_day is part.date_expr and order.explicit_nulls


@pytest.mark.parametrize("order", [SortOrder.ASC, SortOrder.DESC])
def test_a_dated_position_names_the_date_once_per_row(part: CompiledPart, order: SortOrder) -> None:
    """After a dated position the canonical date appears in the condition once, plus once for
    the undated rows that follow a descending position (issue 13: a computed date is computed
    again wherever a condition names it; the row comparison replaced three and two names).
    The rows it selects are checked against the rule in the test above."""
    case_order = CaseOrder(SOURCE, part, order is SortOrder.DESC, table.c.d, False)
    descending = order is SortOrder.DESC
    for source in (SOURCE, "a", "z"):
        condition = case_order.after(Keyset(date(2020, 1, 1), source, "3"))
        names = [node for node in sa.sql.visitors.iterate(condition) if node is table.c.d]
        assert len(names) == (2 if descending else 1), (order, source, str(condition))
    condition = case_order.after(Keyset(date(2020, 1, 1), SOURCE, "3"))
    sql = str(condition.compile(dialect=postgresql.dialect()))
    assert "(t.d, t.k) " in sql, sql
