"""The Task Force's indicators equal the same indicators computed from the ground truth.

A hub of its own serves the demo databases with a linkage index that holds the *true*
persons (from ``ground_truth.json``), so a coordinator's indicators must match the
independent computation of :mod:`tests.indicator_truth` exactly: any difference is a fault
of the indicator engine or the facts the sources compute, not of record linkage (whose
quality is measured by the linkage tests). Roles below coordinator get the same figures
under disclosure control.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert

from hub.access.cellkey import PerturbationRule, cell_key_secret
from hub.access.policy import DEFAULT_K, Principal
from hub.engine.config import load_config
from hub.engine.indicators import builtin_registry
from hub.linkage.index import LinkageIndex, encode_roles
from hub.server.app import Hub
from hub.vocabulary.model import PersonRole
from tests.indicator_truth import Key, Truth
from tests.test_ground_truth import truth_person_key

COORDINATOR = Principal(subject="test", role="coordinator", purpose="statistics")
ANALYST = Principal(subject="test", role="analyst")
PERIOD = ("2022-01-01", "2024-12-31")
AS_OF = "2025-12-31"

QUERY = """
query($id: String!, $filter: CaseFilter, $by: [Dimension!], $asOf: Date) {
  indicator(id: $id, filter: $filter, disaggregateBy: $by, asOf: $asOf) {
    suppressed
    totals { keys { dimension value } numerator denominator value suppressed }
    values { keys { dimension value } numerator denominator value suppressed }
    coverage { source status cannotEvaluate excludedFor }
  }
}"""


async def _truth_linked(config: Any, truth: dict[str, Any], store: Path) -> Hub:
    """A hub on ``config``'s sources with a store of its own whose linkage index is the truth.

    The store's cell-key secret is fixed, not drawn at random by the first start: the published
    noise is a function of it, and a test that asks "was some count moved?" of a few cells must
    get the same answer on every run (with a random secret all of them stay put ~1 run in 7).
    """
    planted = create_engine(f"sqlite:///{store}")
    cell_key_secret.create(planted)
    with planted.begin() as conn:
        conn.execute(insert(cell_key_secret).values(id=1, secret=hashlib.sha256(b"indicators").hexdigest()))
    planted.dispose()
    hub = Hub(replace(config, store_url=f"sqlite:///{store}"))
    await hub.start()
    index = LinkageIndex(hub.store.engine)
    rows = [
        (
            agency,
            truth_person_key(agency, p),
            int(p["person"][1:]),
            encode_roles(PersonRole[r] for r in p["roles"]),
            1.0,
            "TRUTH",
        )
        for agency, data in truth["agencies"].items()
        for p in data["persons"]
    ]
    run = await index.start_run("full")
    await index.write(run, rows, replace_sources=list(truth["agencies"]))
    await index.finish_run(run, read=len(rows), linked=len(rows), persons=len(rows), status="done")
    return hub


@pytest.fixture(scope="module")
async def truth_hub(
    demo_dir: Path, truth: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Hub]:
    """The demo's SQLite sources, linked as the ground truth says."""
    store = tmp_path_factory.mktemp("indicator-store") / "store.sqlite"
    hub = await _truth_linked(load_config(demo_dir / "hub.toml"), truth, store)
    yield hub
    await hub.stop()


@pytest.fixture(scope="module")
async def pg_truth_hub(
    pg_hub: Hub, truth: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Hub]:
    """The same world on PostgreSQL (same seed and scale), linked as the ground truth says."""
    store = tmp_path_factory.mktemp("indicator-pg-store") / "store.sqlite"
    hub = await _truth_linked(pg_hub.config, truth, store)
    yield hub
    await hub.stop()


@pytest.fixture(scope="module")
def truth_model(truth: dict[str, Any]) -> Truth:
    return Truth(truth)


def _key(row: dict[str, Any], row_dimension: bool) -> Key:
    values = [k["value"] for k in row["keys"]]
    head = values.pop(0) if row_dimension else None
    return (head, tuple(values))


async def _ask(
    hub: Hub, principal: Principal, ident: str, by: list[str], period: tuple[str, str] | None
) -> dict:
    variables = {
        "id": ident,
        "by": by,
        "asOf": AS_OF,
        "filter": {"reportedFrom": period[0], "reportedTo": period[1]} if period else None,
    }
    result = await hub.execute(QUERY, variables, principal)
    assert not result.errors, [e.formatted for e in result.errors]
    return result.data["indicator"]


def _figures(answer: dict[str, Any], row_dimension: bool) -> dict[Key, tuple]:
    out = {}
    for row in answer["totals"]:
        head, _ = _key(row, row_dimension)
        out[(head, None)] = (row["numerator"], row["denominator"], row["value"])
    for row in answer["values"]:
        out[_key(row, row_dimension)] = (row["numerator"], row["denominator"], row["value"])
    return out


def _same(got: dict[Key, tuple], want: dict[Key, tuple]) -> list[str]:
    problems = []
    for key in sorted(set(got) | set(want), key=str):
        g, w = got.get(key), want.get(key)
        if g is None or w is None:
            problems.append(f"{key}: hub {g} truth {w}")
            continue
        if (
            g[:2] != w[:2]
            or (g[2] is None) != (w[2] is None)
            or (g[2] is not None and not math.isclose(g[2], round(w[2], 6), abs_tol=1e-6))
        ):
            problems.append(f"{key}: hub {g} truth {w}")
    return problems


CASES = [([], PERIOD), (["YEAR"], None), (["SEX", "PROVINCE"], PERIOD), (["AGENCY"], PERIOD)]


@pytest.mark.parametrize("ident", [i.id for i in builtin_registry()])
async def test_every_indicator_matches_the_ground_truth(
    truth_hub: Hub, truth_model: Truth, ident: str
) -> None:
    spec = builtin_registry().get(ident)
    assert spec is not None
    checked = 0
    for by, period in CASES:
        by = [d for d in by if d in {x.name for x in spec.disaggregations}]
        answer = await _ask(truth_hub, COORDINATOR, ident, by, period)
        assert answer["suppressed"] is False
        got = _figures(answer, spec.row_dimension is not None)
        want = truth_model.evaluate(spec, by, period, AS_OF)
        assert not _same(got, want), _same(got, want)[:10]
        checked += len(want)
    assert checked > 0


@pytest.mark.parametrize("ident", [i.id for i in builtin_registry()])
async def test_every_indicator_matches_the_ground_truth_on_postgres(
    pg_truth_hub: Hub, truth_model: Truth, ident: str
) -> None:
    """The facts are SQL in each source: the same adapters on PostgreSQL give the same figures."""
    spec = builtin_registry().get(ident)
    assert spec is not None
    for by, period in CASES[:2]:
        by = [d for d in by if d in {x.name for x in spec.disaggregations}]
        answer = await _ask(pg_truth_hub, COORDINATOR, ident, by, period)
        assert all(c["status"] in ("ok", "excluded") for c in answer["coverage"])
        got = _figures(answer, spec.row_dimension is not None)
        want = truth_model.evaluate(spec, by, period, AS_OF)
        assert not _same(got, want), _same(got, want)[:10]


async def test_indicators_are_not_empty(truth_hub: Hub) -> None:
    """Guard against a vacuous match: every person indicator counts someone on the demo."""
    for spec in builtin_registry():
        answer = await _ask(truth_hub, COORDINATOR, spec.id, [], PERIOD)
        assert any((t["denominator"] or 0) > 0 for t in answer["totals"]), spec.id


async def test_coverage_says_what_each_source_could_not_evaluate(truth_hub: Hub) -> None:
    funnel = await _ask(truth_hub, COORDINATOR, "enforcement.case_funnel", [], PERIOD)
    cannot = {c["source"]: c["cannotEvaluate"] for c in funnel["coverage"]}
    # The demo's LPSK, BP2MI and Kemlu record no procedural stage: they cannot feed the funnel.
    assert cannot["lpsk"] == cannot["bp2mi"] == cannot["kemlu"] == ["stage"]
    assert cannot["polri"] == cannot["simfoni"] == []
    days = await _ask(truth_hub, COORDINATOR, "enforcement.days_between_stages", [], PERIOD)
    cannot = {c["source"]: c["cannotEvaluate"] for c in days["coverage"]}
    assert cannot["polri"] == [] and cannot["simfoni"] == ["stage history"]
    rights = await _ask(truth_hub, COORDINATOR, "rights.health_rehabilitation", [], PERIOD)
    cannot = {c["source"]: c["cannotEvaluate"] for c in rights["coverage"]}
    assert cannot["polri"] == ["services"]  # the police record no services
    assert all(c["status"] == "ok" for c in rights["coverage"])


async def test_disclosure_control_below_coordinator(truth_hub: Hub) -> None:
    """Below coordinator: cells under k hidden, the rest perturbed consistently, never under k.

    As ``statistics`` (docs/access.md): suppression decided on the true counts, then each
    published count moved by its cell key's bounded noise — the same on every asking.
    """
    bound = PerturbationRule().max_bound
    for ident, by in [
        ("rights.health_rehabilitation", ["SEX", "PROVINCE"]),
        ("enforcement.case_funnel", ["PROVINCE"]),
        ("coordination.freshness", ["PROVINCE"]),
    ]:
        spec = builtin_registry().get(ident)
        assert spec is not None
        row = spec.row_dimension is not None
        exact = _figures(await _ask(truth_hub, COORDINATOR, ident, by, PERIOD), row)
        answer = await _ask(truth_hub, ANALYST, ident, by, PERIOD)
        assert answer["suppressed"] is True
        shown = _figures(answer, row)
        assert shown == _figures(await _ask(truth_hub, ANALYST, ident, by, PERIOD), row)  # consistent
        assert set(shown) == set(exact)
        moved = 0
        for key, (top, bottom, value) in shown.items():
            true_top, true_bottom, _ = exact[key]
            for count, true in ((top, true_top), (bottom, true_bottom)):
                if count is None:
                    continue
                assert count == 0 or count >= DEFAULT_K, (ident, key, count)
                assert abs(count - true) <= max(bound, DEFAULT_K - true if true < DEFAULT_K else 0), (
                    ident,
                    key,
                )
                moved += count != true
            if spec.unit.name == "SHARE" and top is not None and bottom:
                assert value == pytest.approx(top / bottom, abs=1e-6)
        assert moved > 0, ident  # the perturbation is on
        small = [
            k for k, (t, b, _) in exact.items() if any(c is not None and 0 < c < DEFAULT_K for c in (t, b))
        ]
        assert small and all(shown[k] == (None, None, None) for k in small), ident


async def test_bad_input(truth_hub: Hub) -> None:
    result = await truth_hub.execute('{ indicator(id: "no.such") { suppressed } }', None, COORDINATOR)
    assert [e.extensions["code"] for e in result.errors] == ["BAD_USER_INPUT"]
    result = await truth_hub.execute(
        '{ indicator(id: "enforcement.case_funnel", disaggregateBy: [SEX]) { suppressed } }',
        None,
        COORDINATOR,
    )
    assert [e.extensions["code"] for e in result.errors] == ["BAD_USER_INPUT"]
    assert "cannot be disaggregated by SEX" in result.errors[0].message


async def test_registry_query_lists_metadata(truth_hub: Hub) -> None:
    result = await truth_hub.execute(
        "{ indicators { id unit name { en id } metadata { formula frequency sources { code } "
        "referenceCodes legalBasis } } }",
        None,
        Principal(subject="anon", role="public"),
    )
    assert not result.errors, result.errors
    listed = {i["id"]: i for i in result.data["indicators"]}
    assert set(listed) == {i.id for i in builtin_registry()}
    assert {s["code"] for s in listed["rights.repatriation"]["metadata"]["sources"]} == {
        "KEMENPPPA",
        "LPSK",
        "BP2MI",
        "KEMLU",
        "POLRI",
    }
    assert [s["code"] for s in listed["enforcement.days_between_stages"]["metadata"]["sources"]] == ["POLRI"]


async def test_many_person_indicators_in_one_request_are_too_complex(truth_hub: Hub) -> None:
    """Each person indicator reads every source: aliasing many of them is refused, not run."""
    aliases = " ".join(f'a{i}: indicator(id: "rights.no_service") {{ suppressed }}' for i in range(20))
    result = await truth_hub.execute(f"{{ {aliases} }}", None, ANALYST)
    assert [e.extensions["code"] for e in result.errors] == ["QUERY_TOO_COMPLEX"]
    few = " ".join(f'a{i}: indicator(id: "enforcement.case_funnel") {{ suppressed }}' for i in range(5))
    result = await truth_hub.execute(f"{{ {few} }}", None, ANALYST)
    assert not result.errors, result.errors


async def test_person_indicators_report_the_linkage_state(truth_hub: Hub, hub: Hub) -> None:
    """Distinct persons come from linkage: its state is part of the answer, never silent."""
    query = '{ indicator(id: "rights.no_service") { linkage { state unlinkedRecords } } }'
    result = await truth_hub.execute(query, None, COORDINATOR)
    assert not result.errors, result.errors
    assert result.data["indicator"]["linkage"]["unlinkedRecords"] == 0
    funnel = await truth_hub.execute('{ indicator(id: "enforcement.case_funnel") { linkage { state } } }')
    assert funnel.data["indicator"]["linkage"] is None
