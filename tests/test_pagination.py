"""Keyset pagination across sources: every case exactly once, in order, in both directions."""

from __future__ import annotations

from typing import Any

import pytest

from hub.engine.ids import GlobalId
from tests.helpers import EVERY_ROW, all_cases

FIELDS = "id source reportedAt"


def truth_order(truth: dict[str, Any], descending: bool) -> list[tuple[str, str, str]]:
    """(date, source, key) of every case in the documented order. Within one source and date
    the key order is the database's; the test checks it separately by direct SQL below."""
    rows = [
        (c["reported_at"] or "0000-00-00", agency, c["key"])
        for agency, data in truth["agencies"].items()
        for c in data["cases"]
    ]
    return sorted(rows, reverse=descending)


@pytest.mark.parametrize("order", ["REPORTED_AT_DESC", "REPORTED_AT_ASC"])
async def test_paging_by_37_visits_every_case_once_in_order(hub: Any, truth: dict, order: str) -> None:
    nodes = await all_cases(hub, first=37, order=order, fields=FIELDS)
    seen = [(n["reportedAt"] or "0000-00-00", n["source"], GlobalId.decode(n["id"]).key) for n in nodes]
    assert len(seen) == len(set(seen)), "a case was visited twice"
    expected = truth_order(truth, descending=order.endswith("DESC"))
    assert len(seen) == len(expected)
    # Same set of cases, and the (date, source) sequence is exactly the documented order.
    assert sorted(seen) == sorted(expected)
    assert [s[:2] for s in seen] == [e[:2] for e in expected]


async def test_ties_within_a_source_follow_the_database_key_order(hub: Any, demo_dir: Any) -> None:
    import sqlite3

    nodes = await all_cases(hub, first=37, order="REPORTED_AT_ASC", fields=FIELDS)
    polri = [GlobalId.decode(n["id"]).key for n in nodes if n["source"] == "polri"]
    with sqlite3.connect(demo_dir / "polri.sqlite") as db:
        direct = [
            row[0]
            for row in db.execute(
                "SELECT no_lp FROM laporan_polisi "
                "ORDER BY substr(tgl_lp,7,4)||substr(tgl_lp,4,2)||substr(tgl_lp,1,2), no_lp"
            )
        ]
    assert polri == direct


async def test_page_sizes_agree(hub: Any) -> None:
    small = await all_cases(hub, first=37, fields=FIELDS)
    large = await all_cases(hub, first=500, fields=FIELDS)
    assert [n["id"] for n in small] == [n["id"] for n in large]


async def test_total_count_is_counted_in_the_sources(hub: Any, truth: dict) -> None:
    result = await hub.execute("{ cases(first: 1) { totalCount } }")
    assert not result.errors
    assert result.data["cases"]["totalCount"] == sum(len(a["cases"]) for a in truth["agencies"].values())


async def test_date_and_agency_filters(hub: Any, truth: dict) -> None:
    nodes = await all_cases(
        hub,
        first=100,
        fields=FIELDS,
        filter='filter: { reportedFrom: "2023-01-01", reportedTo: "2023-12-31", '
        'agencies: ["POLRI", "LPSK"] }',
    )
    expected = {
        (agency, c["key"])
        for agency in ("polri", "lpsk")
        for c in truth["agencies"][agency]["cases"]
        if c["reported_at"] and "2023-01-01" <= c["reported_at"] <= "2023-12-31"
    }
    assert {(n["source"], GlobalId.decode(n["id"]).key) for n in nodes} == expected


@pytest.mark.parametrize("order", ["AGENCY_ASC", "AGENCY_DESC"])
async def test_paging_by_agency_visits_every_case_once_in_agency_order(
    hub: Any, truth: dict, order: str
) -> None:
    codes = {"simfoni": "KEMENPPPA", "polri": "POLRI", "lpsk": "LPSK", "bp2mi": "BP2MI", "kemlu": "KEMLU"}
    nodes = await all_cases(hub, first=37, order=order, fields="id source reportedAt", principal=EVERY_ROW)
    seen = [(n["source"], GlobalId.decode(n["id"]).key) for n in nodes]
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted((a, c["key"]) for a, d in truth["agencies"].items() for c in d["cases"])
    agencies = [codes[n["source"]] for n in nodes]
    blocks = list(dict.fromkeys(agencies))
    assert blocks == sorted(blocks, reverse=order.endswith("DESC"))  # one block per agency, in order
    for source in codes:
        dates = [n["reportedAt"] for n in nodes if n["source"] == source]
        assert dates == sorted(dates, reverse=True)  # newest first within an agency


async def test_agency_order_with_filter_and_total(hub: Any, truth: dict) -> None:
    nodes = await all_cases(
        hub,
        first=50,
        order="AGENCY_ASC",
        fields="id source",
        filter='filter: {countriesOfExploitation: ["MY"]}',
    )
    expected = {
        (a, c["key"]) for a, d in truth["agencies"].items() for c in d["cases"] if c["country"] == "MY"
    }
    assert {(n["source"], GlobalId.decode(n["id"]).key) for n in nodes} == expected
