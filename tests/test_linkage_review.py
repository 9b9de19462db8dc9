"""The clerical review queue over GraphQL: who may see it, what it shows, and that decisions bind.

Expected evidence levels are recomputed from the generator's ground truth (the raw values the
agencies recorded), not from the hub; decisions are checked in the linkage index and the
audit chain after later runs.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hub.access.audit import AuditFilter
from hub.access.policy import Principal
from hub.engine.config import load_config
from hub.engine.ids import GlobalId
from hub.linkage.index import FORBIDDEN_COLUMNS, LinkageIndex
from hub.linkage.review import ReviewQueue, linkage_review
from hub.server.app import Hub
from tests.helpers import assert_exactly_full_last_page
from tests.linkage_helpers import linked_fixture, run_job, truth_labels, truth_records  # noqa: F401 - fixture

COORDINATOR = Principal(subject="test-coordinator", role="coordinator", agency="LPSK", purpose="COORDINATION")
QUEUE = """
query($first: Int!, $after: String) {
  linkReviews(first: $first, after: $after) {
    totalCount personsAffected
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id score rule status foundAt decidedBy
      left { recordId agency { code } personId }
      right { recordId agency { code } personId }
      evidence { name nik passportNumber birthDate sex phone address region patronym }
    } }
  }
}
"""
CONFIRM = (
    "mutation($id: ID!) { confirmLink(id: $id) { id status decidedBy left { personId } right { personId } } }"
)
REJECT = "mutation($id: ID!) { rejectLink(id: $id) { id status decidedBy } }"
UNDO = (
    "mutation($id: ID!) { undoLinkDecision(id: $id) { id status decidedBy decidedAt "
    "left { personId } right { personId } } }"
)
PERSON_COUNT = "{ persons(first: 1) { totalCount } }"


async def _all_items(hub: Hub, principal: Principal = COORDINATOR) -> tuple[list[dict], dict]:
    items: list[dict] = []
    after = None
    while True:
        result = await hub.execute(QUEUE, {"first": 200, "after": after}, principal=principal)
        assert not result.errors, [e.formatted for e in result.errors]
        page = result.data["linkReviews"]  # type: ignore[index]
        items += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return items, page
        after = page["pageInfo"]["endCursor"]


def _ref(record_id: str) -> tuple[str, str]:
    found = GlobalId.decode(record_id)
    return found.source, found.key


def _nik_level(a: str | None, b: str | None) -> str:
    """NIK agreement from the raw recorded values (the test's own reading)."""
    da, db = re.sub(r"\D", "", a or ""), re.sub(r"\D", "", b or "")
    if len(da) != 16 or len(db) != 16:
        return "MISSING"
    if da == db:
        return "EXACT"
    diff = [k for k in range(16) if da[k] != db[k]]
    swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and da[diff[0]] == db[diff[1]]
    return "ONE_DIGIT" if len(diff) == 1 or swapped else "DIFFERENT"


def _phone_level(a: str | None, b: str | None) -> str:
    da, db = re.sub(r"\D", "", a or ""), re.sub(r"\D", "", b or "")
    if len(da) < 9 or len(db) < 9:
        return "MISSING"
    return "EXACT" if da[-9:] == db[-9:] else "DIFFERENT"


async def test_queue_lists_possible_links_with_levels_only(hub: Any, linked: Any, truth: dict) -> None:
    items, page = await _all_items(hub)
    assert items, "the demo data should leave some pairs in the uncertain band"
    assert page["totalCount"] == len(items)
    records = truth_records(truth)
    text = json.dumps(items)
    for item in items:
        left, right = _ref(item["left"]["recordId"]), _ref(item["right"]["recordId"])
        a, b = records[left], records[right]
        assert item["status"] == "PENDING" and item["decidedBy"] is None
        # two persons now, and the pair is below the link threshold
        assert item["left"]["personId"] != item["right"]["personId"]
        assert item["score"] < 8.0
        # levels agree with the raw values the agencies recorded
        assert item["evidence"]["nik"] == _nik_level(a["nik"], b["nik"]), (a["nik"] is None, b["nik"] is None)
        assert item["evidence"]["phone"] == _phone_level(a["phone"], b["phone"])
        if not a["full_name"] or not b["full_name"]:
            assert item["evidence"]["name"] == "MISSING"
        # never a personal value
        for value in (a["full_name"], b["full_name"], a["nik"], b["nik"], a["phone"], b["phone"]):
            if value:
                assert value not in text
        for born in (a["birth_date"], b["birth_date"]):
            if born:
                assert born not in text


async def test_persons_affected_counts_distinct_persons_of_open_pairs(hub: Any, linked: Any) -> None:
    items, page = await _all_items(hub)
    refs = [_ref(item[side]["recordId"]) for item in items for side in ("left", "right")]
    persons = await LinkageIndex(hub.store.engine).persons_of(refs)
    assert page["personsAffected"] == len(set(persons.values()))
    assert 0 < page["personsAffected"] <= 2 * page["totalCount"]


#: The open pairs and the persons resting on them, read straight from the index's tables.
OPEN_PAIRS_SQL = """
SELECT a.person_id, b.person_id FROM linkage_review r
JOIN linkage_record a ON a.source = r.source_a AND a.record_key = r.key_a
JOIN linkage_record b ON b.source = r.source_b AND b.record_key = r.key_b
WHERE r.status = 'PENDING' AND a.person_id <> b.person_id
"""


async def test_queue_counts_and_exactly_full_last_page_match_the_tables(hub: Any, linked: Any) -> None:
    """totalCount and personsAffected equal what SQL on the index's tables says (an LPSK
    coordinator sees every pair); a page of all pairs, and a last page ending exactly on the last
    pair, has no next page; one short has."""
    async with hub.store.engine.connect() as conn:
        rows = (await conn.execute(text(OPEN_PAIRS_SQL))).all()
    n, persons = len(rows), len({p for row in rows for p in row})
    assert 2 <= n <= 200, "the test needs a few open pairs that fit on one page"

    async def page(first: int, after: str | None = None) -> dict:
        result = await hub.execute(QUEUE, {"first": first, "after": after}, principal=COORDINATOR)
        assert not result.errors, [e.formatted for e in result.errors]
        return result.data["linkReviews"]  # type: ignore[index]

    whole = await assert_exactly_full_last_page(page, n)
    assert (whole["totalCount"], whole["personsAffected"]) == (n, persons)


def test_the_queue_table_holds_no_personal_field() -> None:
    assert not {c.name for c in linkage_review.columns} & FORBIDDEN_COLUMNS


@pytest.mark.parametrize("role", ["public", "analyst", "caseworker", "admin"])
async def test_only_coordinators_may_use_the_queue(hub: Any, linked: Any, role: str) -> None:
    principal = Principal(subject=f"test-{role}", role=role, agency="POLRI", purpose="CASEWORK")
    for query, variables in (
        (QUEUE, {"first": 5}),
        (REJECT, {"id": "bGlua3Jldmlldzox"}),
        (UNDO, {"id": "bGlua3Jldmlldzox"}),
    ):
        result = await hub.execute(query, variables, principal=principal)
        assert result.errors and result.errors[0].extensions["code"] == "FORBIDDEN"


async def test_bad_ids_are_user_errors(hub: Any, linked: Any) -> None:
    for bad in ("not-base64!", "bm9wZTox", "bGlua3JldmlldzoxMjM0NTY3OA"):
        for mutation in (REJECT, UNDO):
            result = await hub.execute(mutation, {"id": bad}, principal=COORDINATOR)
            assert result.errors and result.errors[0].extensions["code"] == "BAD_USER_INPUT"


@pytest.fixture
async def own_hub(demo_dir: Path, tmp_path: Path) -> Any:
    """A hub on a copy of the demo databases with its own empty store (decisions change it)."""
    for item in demo_dir.iterdir():
        if item.suffix in (".sqlite", ".toml") and not item.name.startswith("hub-store"):
            shutil.copy(item, tmp_path / item.name)
    instance = Hub(load_config(tmp_path / "hub.toml"))
    await instance.start()
    yield instance
    await instance.stop()


async def test_decisions_are_audited_applied_and_respected_by_later_runs(own_hub: Hub) -> None:
    await run_job(own_hub, full=True)
    items, _ = await _all_items(own_hub)
    assert len(items) >= 2
    confirm, reject = items[0], items[1]
    index = LinkageIndex(own_hub.store.engine)
    confirmed_refs = [_ref(confirm[s]["recordId"]) for s in ("left", "right")]
    rejected_refs = [_ref(reject[s]["recordId"]) for s in ("left", "right")]

    result = await own_hub.execute(CONFIRM, {"id": confirm["id"]}, principal=COORDINATOR)
    assert not result.errors, [e.formatted for e in result.errors]
    done = result.data["confirmLink"]  # type: ignore[index]
    assert done["status"] == "CONFIRMED" and done["decidedBy"] == "test-coordinator"
    assert done["left"]["personId"] == done["right"]["personId"]
    persons = await index.persons_of(confirmed_refs)
    assert len(set(persons.values())) == 1, "a confirmation merges the persons at once"

    result = await own_hub.execute(REJECT, {"id": reject["id"]}, principal=COORDINATOR)
    assert not result.errors, [e.formatted for e in result.errors]
    assert result.data["rejectLink"]["status"] == "REJECTED"  # type: ignore[index]

    # a decided pair is no longer open: deciding again is a user error
    again = await own_hub.execute(REJECT, {"id": confirm["id"]}, principal=COORDINATOR)
    assert again.errors and again.errors[0].extensions["code"] == "BAD_USER_INPUT"

    # both decisions are in the audit chain, under the two records' global ids, and it verifies
    for item, action in ((confirm, "confirmLink"), (reject, "rejectLink")):
        entries = await own_hub.audit.entries(AuditFilter(record_id=item["left"]["recordId"]), first=10)
        assert any(action in e.fields and item["right"]["recordId"] in e.record_ids for e in entries.entries)
    assert (await own_hub.audit.verify()).ok

    # later runs, full and incremental, keep the decisions
    for full in (True, False):
        await run_job(own_hub, full=full)
        persons = await index.persons_of(confirmed_refs + rejected_refs)
        assert persons[confirmed_refs[0]] == persons[confirmed_refs[1]]
        assert persons[rejected_refs[0]] != persons[rejected_refs[1]]
        open_ids = {item["id"] for item in (await _all_items(own_hub))[0]}
        assert confirm["id"] not in open_ids and reject["id"] not in open_ids
    decisions = await ReviewQueue(own_hub.store.engine).decisions()
    assert {d.status.value for d in decisions} == {"CONFIRMED", "REJECTED"}


# --- undoing a decision -------------------------------------------------------------------------


async def _partition(hub: Hub) -> set[frozenset[tuple[str, str]]]:
    """The index's persons as sets of record references (ids left out: only the grouping)."""
    groups: dict[int, set[tuple[str, str]]] = {}
    for ref, person in (await LinkageIndex(hub.store.engine).assignments()).items():
        groups.setdefault(person, set()).add(ref)
    return {frozenset(refs) for refs in groups.values()}


async def _person_count(hub: Hub) -> int:
    result = await hub.execute(PERSON_COUNT, principal=COORDINATOR)
    assert not result.errors, [e.formatted for e in result.errors]
    return int(result.data["persons"]["totalCount"])  # type: ignore[index]


def _pair(item: dict) -> frozenset[tuple[str, str]]:
    return frozenset(_ref(item[side]["recordId"]) for side in ("left", "right"))


async def _execute(hub: Hub, query: str, item_id: str, field: str) -> dict:
    result = await hub.execute(query, {"id": item_id}, principal=COORDINATOR)
    assert not result.errors, [e.formatted for e in result.errors]
    return result.data[field]  # type: ignore[index]


async def test_undoing_a_wrong_confirmation_splits_the_person_again(own_hub: Hub, truth: dict) -> None:
    labels = truth_labels(truth)
    await run_job(own_hub, full=True)
    items, _ = await _all_items(own_hub)
    # a pair the ground truth says are two people: confirming it is the reviewer's mistake
    wrong = next(i for i in items if len({labels[ref] for ref in _pair(i)}) == 2)
    left, right = sorted(_pair(wrong))
    before, count_before = await _partition(own_hub), await _person_count(own_hub)
    person_of_left = next(p for p in before if left in p)
    person_of_right = next(p for p in before if right in p)

    done = await _execute(own_hub, CONFIRM, wrong["id"], "confirmLink")
    assert done["left"]["personId"] == done["right"]["personId"]
    assert await _person_count(own_hub) == count_before - 1
    merged = await _partition(own_hub)
    assert person_of_left | person_of_right in merged

    undone = await _execute(own_hub, UNDO, wrong["id"], "undoLinkDecision")
    assert undone["status"] == "PENDING" and undone["decidedBy"] is None and undone["decidedAt"] is None
    assert undone["left"]["personId"] != undone["right"]["personId"]
    # the index is as it was before the confirmation: the same persons, the same count
    assert await _partition(own_hub) == before
    assert await _person_count(own_hub) == count_before
    # the undo is audited under both records, and the chain still verifies
    entries = await own_hub.audit.entries(AuditFilter(record_id=wrong["left"]["recordId"]), first=20)
    assert any(
        "undoLinkDecision" in e.fields and wrong["right"]["recordId"] in e.record_ids for e in entries.entries
    )
    assert (await own_hub.audit.verify()).ok
    # the pair is open again, and an open pair has nothing to undo
    assert wrong["id"] in {i["id"] for i in (await _all_items(own_hub))[0]}
    again = await own_hub.execute(UNDO, {"id": wrong["id"]}, principal=COORDINATOR)
    assert again.errors and again.errors[0].extensions["code"] == "BAD_USER_INPUT"
    assert not await ReviewQueue(own_hub.store.engine).decisions()

    # later runs no longer force the pair: the two people stay apart, as the truth says
    await run_job(own_hub, full=False)
    assert await _partition(own_hub) == before
    await run_job(own_hub, full=True)
    after = await _partition(own_hub)
    assert not any(left in p and right in p for p in after)
    assert _pair(wrong) in {_pair(i) for i in (await _all_items(own_hub))[0]}, "offered again"


async def test_undoing_a_wrong_rejection_lets_the_pair_be_confirmed(own_hub: Hub, truth: dict) -> None:
    labels = truth_labels(truth)
    await run_job(own_hub, full=True)
    items, _ = await _all_items(own_hub)
    # a pair the ground truth says is one person: rejecting it is the reviewer's mistake
    true_pair = next(i for i in items if len({labels[ref] for ref in _pair(i)}) == 1)
    count_before = await _person_count(own_hub)

    assert (await _execute(own_hub, REJECT, true_pair["id"], "rejectLink"))["status"] == "REJECTED"
    await run_job(own_hub, full=True)
    assert _pair(true_pair) not in {_pair(i) for i in (await _all_items(own_hub))[0]}

    undone = await _execute(own_hub, UNDO, true_pair["id"], "undoLinkDecision")
    assert undone["status"] == "PENDING"
    assert await _person_count(own_hub) == count_before, "a rejection changed no person"
    # the next incremental run leaves it in the queue; a full run offers it again
    await run_job(own_hub, full=False)
    assert true_pair["id"] in {i["id"] for i in (await _all_items(own_hub))[0]}
    await run_job(own_hub, full=True)
    offered = next(i for i in (await _all_items(own_hub))[0] if _pair(i) == _pair(true_pair))

    done = await _execute(own_hub, CONFIRM, offered["id"], "confirmLink")
    assert done["left"]["personId"] == done["right"]["personId"]
    assert await _person_count(own_hub) == count_before - 1
    left, right = sorted(_pair(true_pair))
    assert any(left in p and right in p for p in await _partition(own_hub))
