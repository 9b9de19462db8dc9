"""Real-browser tests: headless Chromium (Debian's package) against a served, linked demo hub.

- GraphiQL loads from the hub alone, and its pre-filled query runs and shows the API's answer.
- The dashboard draws, chart by chart, exactly the numbers the API gives for the same question
  (asked here with the test's own queries), in both languages, with a filter applied, and its
  CSV downloads hold the same tables.
- No request leaves the hub's origin and no script fails.

Screenshots are written to ``tests/artifacts/`` (ignored by git) for a person to look at.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.demo.generate import generate
from tests.browser import CHROMIUM, Page, chromium
from tests.prerequisites import require


@pytest.fixture(scope="module", autouse=True)
def _chromium() -> None:
    """Chromium is a prerequisite: missing, it fails the run (tests/prerequisites.py)."""
    require("chromium", CHROMIUM is not None, "chromium is not installed (make test installs it)")

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo world of the browser tests' own (linked below)."""
    demo = tmp_path_factory.mktemp("browser-demo")
    generate(demo, seed=2023, scale=1.0)
    # The browser and the test read from one address as one anonymous caller, a whole dashboard
    # at a time: the per-caller work budget (tests/test_abuse_limits.py) is widened so the
    # pages are measured, not the budget. The dashboard itself keeps 2 requests in flight and
    # honours Retry-After.
    with (demo / "hub.toml").open("a", encoding="utf-8") as file:
        file.write(
            "\n[auth.limits]\nconcurrent_requests = 16\nwork_per_second = 100000\nwork_burst = 1000000\n"
        )
    return str(demo / "hub.toml")


@pytest.fixture(scope="module")
def base_url(config: str) -> Iterator[str]:
    """The linked demo world served by ``tppo-hub serve`` on a free port."""
    subprocess.run(
        [sys.executable, "-m", "hub.server.cli", "link", "--config", config],
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.server.cli", "serve", "--config", config, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a busy machine starts slowly
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("hub did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture()
def page() -> Iterator[Page]:
    with chromium() as tab:
        yield tab


def api(
    base_url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    body = {"query": query, "variables": variables or {}}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # The test reads from the same address as the browser, so it shares the anonymous caller's
    # budget: refused with 429, it waits Retry-After as the dashboard does (the hub's contract).
    for _attempt in range(10):
        response = httpx.post(f"{base_url}/graphql", json=body, headers=headers, timeout=120)
        if response.status_code != 429:
            break
        time.sleep(min(10, int(response.headers.get("Retry-After", "1"))))
    payload = response.json()
    assert not payload.get("errors"), payload.get("errors")
    return payload["data"]


def table(base_url: str, measure: str, dimensions: str, filter: dict[str, Any] | None = None,
          lang: str = "en", token: str | None = None) -> dict[tuple[str, ...], int | None]:
    """The API's answer as {labels of the cell: count}: what a chart should draw."""
    label = "label" if lang == "en" else "labelId"
    data = api(
        base_url,
        f"query T($f: CaseFilter) {{ statistics(measure: {measure}, groupBy: [{dimensions}], filter: $f) "
        f"{{ total rows {{ keys {{ value {label} }} count }} }} }}",
        {"f": filter},
        token,
    )["statistics"]
    return {tuple(k[label] or k["value"] for k in row["keys"]): row["count"] for row in data["rows"]}


def drawn(page: Page, card: str) -> dict[tuple[str, ...], int | None]:
    """What the chart in a dashboard card drew: {(label,) or (label, dataset): value}."""
    chart = page.evaluate(
        f"""(function () {{
          var c = Chart.getChart(document.querySelector('#card-{card} canvas'));
          var sets = c.data.datasets.map(function (d) {{ return {{ label: d.label, data: d.data }}; }});
          return {{ labels: c.data.labels, datasets: sets }};
        }})()"""
    )
    if len(chart["datasets"]) == 1:
        return dict(zip(((label,) for label in chart["labels"]), chart["datasets"][0]["data"], strict=True))
    cells = {}
    for dataset in chart["datasets"]:
        for label, value in zip(chart["labels"], dataset["data"], strict=True):
            cells[(label, dataset["label"])] = value
    return cells


def open_dashboard(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for("document.body && document.body.getAttribute('data-state') === 'ready'", timeout=120)


def test_graphiql_runs_its_prefilled_query_offline(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/graphql")
    page.wait_for("document.querySelector('.graphiql-execute-button') !== null")
    tabs = page.evaluate("Array.from(document.querySelectorAll('.graphiql-tab')).map(t => t.textContent)")
    names = ("PortalList", "AnalystFilter", "CaseDetail", "StatisticsByProvinceAndYear", "LinkedPersons")
    assert all(t.startswith(name) for t, name in zip(tabs, names, strict=True))
    page.evaluate("document.querySelector('.graphiql-execute-button').click()")
    shown = page.wait_for(
        "(function () { var r = document.querySelector('.result-window .CodeMirror');"
        " return r && r.CodeMirror && r.CodeMirror.getValue().indexOf('totalCount') >= 0"
        " ? r.CodeMirror.getValue() : null; })()"
    )
    page.screenshot(ARTIFACTS / "graphiql.png")
    result = json.loads(shown)
    expected = api(base_url, "{ cases(first: 1) { totalCount } }")["cases"]["totalCount"]
    assert result["data"]["cases"]["totalCount"] == expected
    assert len(result["data"]["cases"]["edges"]) == 20
    assert page.off_host(base_url) == []
    assert page.exceptions == []


def test_dashboard_draws_the_apis_numbers(page: Page, base_url: str, tmp_path: Path) -> None:
    page.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(tmp_path))
    page.send("Emulation.setDeviceMetricsOverride", width=1400, height=3200, deviceScaleFactor=1,
              mobile=False)
    open_dashboard(page, base_url)
    page.screenshot(ARTIFACTS / "dashboard.png")
    assert page.off_host(base_url) == []
    assert page.exceptions == []
    assert drawn(page, "exploitationTypes") == table(base_url, "CASES", "EXPLOITATION_TYPE")
    assert drawn(page, "destinationCountries") == table(base_url, "CASES", "COUNTRY_OF_EXPLOITATION")
    assert drawn(page, "servicesByType") == table(base_url, "SERVICES", "SERVICE_TYPE")
    assert drawn(page, "victimsBySex") == table(base_url, "VICTIMS", "SEX")
    assert drawn(page, "victimsByAgeGroup") == table(base_url, "VICTIMS", "AGE_GROUP")
    assert drawn(page, "victimsByChild") == table(base_url, "VICTIMS", "CHILD")
    by_province_year = table(base_url, "CASES", "PROVINCE, YEAR")
    provinces = {province for province, _ in by_province_year}
    years = {year for _, year in by_province_year}
    assert drawn(page, "casesByProvinceYear") == {
        (p, y): by_province_year.get((p, y), 0) for p in provinces for y in years
    }
    records = api(base_url, "{ statistics(measure: VICTIM_RECORDS, groupBy: [AGENCY]) { total } }")
    persons = api(base_url, "{ statistics(measure: VICTIMS, groupBy: [AGENCY]) { total } }")
    figures = page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('#card-dedup .figure'))"
        ".map(f => [f.dataset.figure, f.dataset.value]))"
    )
    total_records, total_persons = records["statistics"]["total"], persons["statistics"]["total"]
    assert figures == {
        "records": str(total_records),
        "persons": str(total_persons),
        "overcount": str(total_records - total_persons),
    }
    assert total_persons < total_records  # a linked demo: the same victims in several agencies
    coverage = page.evaluate(
        "Array.from(document.querySelectorAll('#card-exploitationTypes .chip')).map(c => c.dataset.source)"
    )
    sources = {s["name"] for s in api(base_url, "{ sources { name } }")["sources"]}
    assert set(coverage) == sources
    assert page.evaluate("document.getElementById('linkage-warning').hidden") is True  # linked demo
    # The Task Force's indicators: every one listed with its value, its definition one click away.
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('#card-indicators tr[data-indicator]'))"
        ".map(r => [r.dataset.indicator, r.querySelector('td.num').dataset.value])"
    )
    registry = api(base_url, "{ indicators { id } }")["indicators"]
    assert {i for i, _ in shown} == {i["id"] for i in registry}
    for indicator in ("rights.repatriation", "coordination.double_counting"):
        (total,) = api(
            base_url, "query($id: String!) { indicator(id: $id) { totals { value } } }", {"id": indicator}
        )["indicator"]["totals"]
        drawn_values = [float(v) if v else None for i, v in shown if i == indicator]
        assert drawn_values == [total["value"]]
    definitions = page.evaluate("document.querySelectorAll('#card-indicators details').length")
    assert definitions == len(registry)
    # Every chart's table downloads as CSV; the age-group one holds the API's rows.
    cards = page.evaluate("Array.from(document.querySelectorAll('.card a.csv')).map(a => a.download)")
    assert len(cards) >= 9
    page.evaluate("document.querySelector('#card-victimsByAgeGroup a.csv').click()")
    target = tmp_path / "tppo-victimsByAgeGroup.csv"
    deadline = time.monotonic() + 30
    while not target.exists() and time.monotonic() < deadline:
        page.pump(0.2)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    expected = api(
        base_url,
        "{ statistics(measure: VICTIMS, groupBy: [AGE_GROUP]) { rows { keys { value } count } } }",
    )["statistics"]["rows"]
    assert {(r["AGE_GROUP"], r["count"]) for r in rows} == {
        (row["keys"][0]["value"] or "", "" if row["count"] is None else str(row["count"])) for row in expected
    }


def test_dashboard_filters_and_speaks_indonesian(page: Page, base_url: str) -> None:
    open_dashboard(page, base_url)
    page.evaluate(
        "document.getElementById('filter-agency').value = 'POLRI';"
        "document.getElementById('filter-from').value = '2022-01-01';"
        "document.getElementById('lang-toggle').click()"
    )
    page.wait_for("document.documentElement.lang === 'id' && document.body.dataset.state === 'ready'")
    page.screenshot(ARTIFACTS / "dashboard-id-polri.png")
    title = page.evaluate("document.querySelector('#card-exploitationTypes h2').textContent")
    assert title == "Bentuk eksploitasi"
    polri = {"agencies": ["POLRI"], "reportedFrom": "2022-01-01"}
    assert drawn(page, "exploitationTypes") == table(base_url, "CASES", "EXPLOITATION_TYPE", polri, lang="id")
    chips = page.evaluate(
        "Array.from(document.querySelectorAll('#card-exploitationTypes .chip'))"
        ".map(c => [c.dataset.source, c.dataset.status])"
    )
    statuses = dict(chips)
    assert statuses["polri"] == "ok"
    assert {s for name, s in statuses.items() if name != "polri"} == {"skipped"}


def test_a_coordinator_token_shows_exact_numbers_and_overlaps(page: Page, base_url: str, config: str) -> None:
    token = subprocess.run(
        [sys.executable, "-m", "hub.server.cli", "token", "--config", config, "--role", "coordinator",
         "--purpose", "COORDINATION"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout.strip().splitlines()[-1]
    open_dashboard(page, base_url)
    page.evaluate(
        f"var t = document.getElementById('token'); t.value = {json.dumps(token)};"
        "t.dispatchEvent(new Event('change'))"
    )
    page.wait_for(
        "document.getElementById('viewer').dataset.role === 'coordinator'"
        " && document.body.dataset.state === 'ready'"
    )
    page.screenshot(ARTIFACTS / "dashboard-coordinator.png")
    assert drawn(page, "victimsBySex") == table(base_url, "VICTIMS", "SEX", token=token)
    assert drawn(page, "exploitationTypes") == table(base_url, "CASES", "EXPLOITATION_TYPE", token=token)
    assert None not in drawn(page, "destinationCountries").values()  # exact: nothing withheld
    overlaps = page.evaluate("Array.from(document.querySelectorAll('#card-dedup .overlap li')).length")
    expected = api(
        base_url,
        "{ statistics(measure: VICTIMS, groupBy: [AGENCY]) { doubleCounting { overlap { persons } } } }",
        token=token,
    )["statistics"]["doubleCounting"]["overlap"]
    assert overlaps == len(expected) > 0
