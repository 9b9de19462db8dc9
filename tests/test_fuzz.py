"""Fuzzing the HTTP surface: no request gets HTTP 5xx or ``INTERNAL_SERVER_ERROR``.

Hypothesis draws bodies (bytes, JSON of any shape), content types, ids, cursors, filters and
``_entities`` representations, and sends them to the real ASGI app of the demo hub. Whatever
the input, the answer is a 2xx/4xx with a coded error. Derandomized (the same examples every
run) and bounded, so it runs in seconds.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.access.auth import mint_token
from hub.engine.config import load_config
from hub.server.app import create_app

FUZZ = settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Client:
    """The demo hub's ASGI app on its own event loop, for synchronous hypothesis tests."""

    def __init__(self, demo_dir: Path) -> None:
        self.runner = asyncio.Runner()
        self.app = create_app(load_config(demo_dir / "hub.toml"))
        self._lifespan = self.app.router.lifespan_context(self.app)
        self.runner.run(self._lifespan.__aenter__())
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://hub")
        hub = self.app.state.hub
        self.tokens = {
            "admin": mint_token(hub.auth, "admin"),
            "coordinator": mint_token(hub.auth, "coordinator", agency="LPSK", purpose="fuzz"),
        }

    def send(self, method: str, **kwargs: Any) -> httpx.Response:
        return self.runner.run(self.http.request(method, "/graphql", **kwargs))

    def close(self) -> None:
        self.runner.run(self.http.aclose())
        self.runner.run(self._lifespan.__aexit__(None, None, None))
        self.runner.close()


@pytest.fixture(scope="module")
def client(demo_dir: Path) -> Iterator[Client]:
    made = Client(demo_dir)
    yield made
    made.close()


def assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    try:
        body = response.json()
    except ValueError:
        return  # a plain-text 4xx from the HTTP layer
    errors = body.get("errors", []) if isinstance(body, dict) else []
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    assert "INTERNAL_SERVER_ERROR" not in codes, errors
    if response.status_code == 200 and errors:
        assert all(codes), errors  # every error says what it is


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
huge_numbers = st.sampled_from([str(2**63), str(2**64 + 1), "9" * 5000, "-1", "0", "٣", "²", "1e9"])
id_texts = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda source, entity, key: _b64(f"{source}:{entity}:{key}".encode()),
        st.sampled_from(["polri", "lpsk", "_linkage", "nope", ""]),
        st.sampled_from(["case", "person", "service", "stage", "x", ""]),
        st.one_of(huge_numbers, st.text(max_size=30)),
    ),
    st.binary(max_size=40).map(_b64),
)
cursor_texts = st.one_of(
    id_texts,
    st.integers(min_value=1, max_value=60_000).map(lambda n: _b64(("[" * n + "]" * n).encode())),
    json_values.map(lambda v: _b64(json.dumps(v).encode())),
    st.builds(lambda n: _b64(f"person:{n}".encode()), huge_numbers),
    st.builds(lambda n: _b64(f"audit:{n}".encode()), huge_numbers),
)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from([b"42", b'"x"', b"null", b"[]", b"[1,2]", b"{}", b'{"query": 1}', b"[" * 5000]),
        st.builds(
            lambda q, v, o, e: json.dumps(
                {"query": q, "variables": v, "operationName": o, "extensions": e}
            ).encode(),
            st.one_of(st.text(max_size=60), st.just("{ agencies { code } }"), st.none()),
            json_values,
            json_values,
            json_values,
        ),
    ),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/graphql-response+json",
            "application/json; charset=latin-1",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "",
        ]
    ),
    accept=st.sampled_from(["*/*", "application/graphql-response+json", "text/html"]),
)
def test_bodies_and_content_types(client: Client, body: bytes, content_type: str, accept: str) -> None:
    headers = {"accept": accept} | ({"content-type": content_type} if content_type else {})
    assert_no_server_error(client.send("POST", content=body, headers=headers))


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["query", "variables", "operationName", "extensions"]), st.text(max_size=40)
    )
)
def test_get_parameters(client: Client, params: dict[str, str]) -> None:
    assert_no_server_error(client.send("GET", params=params, headers={"accept": "application/json"}))


@FUZZ
@given(
    raw=id_texts,
    field=st.sampled_from(["node", "case", "person"]),
    role=st.sampled_from([None, "coordinator"]),
)
def test_ids(client: Client, raw: str, field: str, role: str | None) -> None:
    query = f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}"
    headers = {"Authorization": f"Bearer {client.tokens[role]}"} if role else {}
    assert_no_server_error(
        client.send("POST", json={"query": query, "variables": {"id": raw}}, headers=headers)
    )


@FUZZ
@given(cursor=cursor_texts, field=st.sampled_from(["cases", "persons", "auditLog"]))
def test_cursors(client: Client, cursor: str, field: str) -> None:
    selection = "pageInfo { endCursor }"
    query = f"query($a: String) {{ {field}(first: 3, after: $a) {{ {selection} }} }}"
    headers = {"Authorization": f"Bearer {client.tokens['admin']}"} if field == "auditLog" else {}
    assert_no_server_error(
        client.send("POST", json={"query": query, "variables": {"a": cursor}}, headers=headers)
    )


case_filters = st.dictionaries(
    st.sampled_from(
        [
            "reportedFrom",
            "reportedTo",
            "regions",
            "agencies",
            "exploitationTypes",
            "stages",
            "victimSex",
            "victimAgeGroups",
            "childVictim",
            "countriesOfExploitation",
            "text",
            "sources",
            "unknownField",
        ]
    ),
    st.one_of(
        json_values,
        st.sampled_from(["2023-01-01", "2023-02-30", "99999-01-01", "33", "LPSK", "FORCED_LABOUR", "%", "_"]),
        st.lists(st.sampled_from(["33", "33.73", "", "9" * 400, "POLRI", "MALE", "AGE_0_5", "ID", "XX"])),
    ),
    max_size=4,
)


@FUZZ
@given(filter=case_filters, field=st.sampled_from(["cases", "statistics"]))
def test_filters(client: Client, filter: dict[str, Any], field: str) -> None:
    if field == "cases":
        query = "query($f: CaseFilter) { cases(first: 5, filter: $f) { totalCount edges { node { id } } } }"
    else:
        query = (
            "query($f: CaseFilter) { statistics(measure: CASES, groupBy: [AGENCY], filter: $f) { total } }"
        )
    assert_no_server_error(client.send("POST", json={"query": query, "variables": {"f": filter}}))


@FUZZ
@given(
    representations=st.one_of(
        st.lists(json_values, max_size=5),
        st.lists(
            st.fixed_dictionaries(
                {"__typename": st.sampled_from(["Case", "PersonRecord", "Agency", "Service", "Nope"])},
                optional={"id": st.one_of(id_texts, json_values), "code": json_values},
            ),
            max_size=5,
        ),
        json_values,
    )
)
def test_entities(client: Client, representations: Any) -> None:
    query = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
    assert_no_server_error(client.send("POST", json={"query": query, "variables": {"r": representations}}))
