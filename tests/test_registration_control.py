"""Source registration under control: allow-list, the hub's own store, four eyes, the audit
chain, findings as shapes, and personal data smuggled into non-personal fields.

The attack this guards against (issue 12): an admin registered LPSK's database with a mapping
that put names into ``sourceKey``, birth dates into ``reportedAt`` and NIKs into ``country``,
and every analyst read them. Expected values come from sqlite3 on the demo copies.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.screening import judge, name_like, nik_shaped, phone_shaped, shape
from hub.access.policy import Principal
from hub.engine.config import parse_config
from hub.server.app import Hub
from tests.test_registration import APPROVE, KEMLU_MAPPING, REGISTER

ADMIN = Principal(subject="admin-one", role="admin", method="jwt", token_id="t1")
SECOND = Principal(subject="admin-two", role="admin", method="jwt", token_id="t2")
PENDING = "{ pendingSources { name revision registeredBy findings { severity kind message field } } }"
REJECT = 'mutation($n: String!) { rejectSource(name: $n, reason: "not ours") { name rejected } }'
REMOVE = "mutation($n: String!) { removeSource(name: $n) { removed } }"
AUDIT = """query($r: ID) { auditLog(filter: {recordId: $r}, first: 50) {
  edges { node { subject role credential recordIds fields } } } }"""

#: The attack's mapping: LPSK's protected persons as "cases" whose key, date and country are
#: the person's name, birth date and NIK.
SMUGGLING = """
[source]
agency = { code = "LPSK", name = "LPSK", type = "WITNESS_PROTECTION" }

[case]
table = "terlindung"
key = "id_terlindung"
source_key = "nama"
reported_at = "tanggal_lahir"
country = { column = "nik", format = "alpha2" }
"""
#: Only the birth date in a non-personal field: nothing shows in the values, the name does.
BIRTH_DATE_AS_REPORT_DATE = """
[source]
agency = { code = "LPSK", name = "LPSK", type = "WITNESS_PROTECTION" }

[case]
table = "terlindung"
key = "id_terlindung"
source_key = "id_terlindung"
reported_at = "tanggal_lahir"
"""


@pytest.fixture()
def workdir(demo_dir: Path, tmp_path: Path) -> Path:
    (tmp_path / "agencies").mkdir()
    for name in ("polri", "kemlu", "lpsk"):
        shutil.copy(demo_dir / f"{name}.sqlite", tmp_path / "agencies" / f"{name}.sqlite")
    shutil.copy(demo_dir / "kemlu.sqlite", tmp_path / "elsewhere.sqlite")
    return tmp_path


@pytest.fixture()
async def hub(workdir: Path) -> AsyncIterator[Hub]:
    config = parse_config(
        {
            "hub": {"store": "sqlite:///agencies/hub-store.sqlite"},
            "registration": {"allowed_directories": ["agencies"], "allowed_hosts": ["db.kemlu.go.id"]},
            "sources": [{"name": "polri", "mapping": "polri", "url": "sqlite:///agencies/polri.sqlite"}],
        },
        workdir,
    )
    instance = Hub(config)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


async def register(hub: Hub, principal: Principal = ADMIN, **input: Any) -> Any:
    return await hub.execute(REGISTER, {"input": input}, principal=principal)


def kemlu(**changes: Any) -> dict[str, Any]:
    return {"name": "kemlu", "url": "sqlite:///agencies/kemlu.sqlite", "mapping": KEMLU_MAPPING, **changes}


def codes(result: Any) -> list[str]:
    return [e.extensions["code"] for e in result.errors or []]


# --- allow-list -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///elsewhere.sqlite", "allowed_directories"),
        ("sqlite:///agencies/../elsewhere.sqlite", "allowed_directories"),
        ("sqlite:///agencies/hub-store.sqlite", "own store"),
        ("sqlite:///agencies/hub-store.sqlite-wal", "own store"),
        ("sqlite:///file:agencies/hub-store.sqlite?mode=ro&uri=true", "own store"),
        ("sqlite://", "in-memory"),
        ("postgresql://reader@db.other.go.id/kemlu", "allowed_hosts"),
        ("postgresql://reader@127.0.0.1:5432/kemlu", "allowed_hosts"),
        ("agencies/kemlu.sqlite", "not a database URL"),
        # MySQL/MariaDB is not a supported backend (the suite runs no server of it).
        ("mysql://reader@db.kemlu.go.id/kemlu", "unsupported database 'mysql' (sqlite, postgresql)"),
        ("oracle://reader@db.kemlu.go.id/kemlu", "unsupported"),
    ],
)
async def test_urls_outside_the_allow_list_are_refused(hub: Hub, url: str, reason: str) -> None:
    result = await register(hub, **kemlu(url=url))
    assert [e.extensions for e in result.errors] == [{"code": "BAD_USER_INPUT", "argument": "input.url"}]
    assert reason in result.errors[0].message
    assert await hub.registry.registrations.pending() == []


# --- four eyes ------------------------------------------------------------------------------------------


async def test_a_registration_serves_only_after_another_admin_approves(hub: Hub, workdir: Path) -> None:
    filed = await register(hub, **kemlu())
    assert not filed.errors, [e.formatted for e in filed.errors]
    payload = filed.data["registerSource"]
    assert payload["pending"] is True and payload["activated"] is False and payload["source"] is None
    sources = await hub.execute("{ sources { name } }")
    assert "kemlu" not in {s["name"] for s in sources.data["sources"]}

    waiting = await hub.execute(PENDING, principal=SECOND)
    (entry,) = waiting.data["pendingSources"]
    assert entry["name"] == "kemlu" and entry["registeredBy"] == "admin-one"
    assert entry["revision"] == payload["revision"]

    own = await hub.execute(APPROVE, {"name": "kemlu"}, principal=ADMIN)
    assert codes(own) == ["BAD_USER_INPUT"] and "four eyes" in own.errors[0].message
    analyst = await hub.execute(APPROVE, {"name": "kemlu"}, principal=Principal(subject="a", role="analyst"))
    assert codes(analyst) == ["FORBIDDEN"]
    stale = await hub.execute(APPROVE, {"name": "kemlu", "revision": "0" * 32}, principal=SECOND)
    assert codes(stale) == ["BAD_USER_INPUT"]

    approved = await hub.execute(
        APPROVE, {"name": "kemlu", "revision": payload["revision"]}, principal=SECOND
    )
    assert not approved.errors, [e.formatted for e in approved.errors]
    assert approved.data["approveSource"]["activated"] is True
    with contextlib.closing(sqlite3.connect(workdir / "agencies" / "kemlu.sqlite")) as db:
        expected = db.execute("SELECT count(*) FROM cases").fetchone()[0]
    result = await hub.execute('{ cases(first: 1, filter: {agencies: ["KEMLU"]}) { totalCount } }')
    assert result.data["cases"]["totalCount"] == expected
    (review,) = await hub.registry.registrations.reviews("kemlu")
    assert (review.decision, review.registered_by, review.reviewed_by) == (
        "approved",
        "admin-one",
        "admin-two",
    )
    assert (await hub.execute(PENDING, principal=SECOND)).data["pendingSources"] == []


async def test_rejection_and_removal_are_recorded_in_the_audit_chain(hub: Hub) -> None:
    filed = await register(hub, **kemlu())
    assert filed.data["registerSource"]["pending"]
    rejected = await hub.execute(REJECT, {"n": "kemlu"}, principal=SECOND)
    assert rejected.data["rejectSource"] == {"name": "kemlu", "rejected": True}
    assert codes(await hub.execute(APPROVE, {"name": "kemlu"}, principal=SECOND)) == ["BAD_USER_INPUT"]
    again = await register(hub, **kemlu())
    await hub.execute(
        APPROVE, {"name": "kemlu", "revision": again.data["registerSource"]["revision"]}, principal=SECOND
    )
    removed = await hub.execute(REMOVE, {"n": "kemlu"}, principal=ADMIN)
    assert removed.data["removeSource"]["removed"] is True

    log = await hub.execute(AUDIT, {"r": "source:kemlu"}, principal=SECOND)
    events = [
        (e["node"]["subject"], e["node"]["fields"], e["node"]["credential"])
        for e in log.data["auditLog"]["edges"]
    ]
    assert events[::-1] == [
        ("admin-one", ["source.register"], "jwt:t1"),
        ("admin-two", ["source.reject"], "jwt:t2"),
        ("admin-one", ["source.register"], "jwt:t1"),
        ("admin-two", ["source.approve"], "jwt:t2"),
        ("admin-one", ["source.remove"], "jwt:t1"),
    ]
    assert (await hub.audit.verify()).ok
    decisions = [r.decision for r in await hub.registry.registrations.reviews("kemlu")]
    assert decisions == ["rejected", "approved"]


# --- personal data in non-personal fields ----------------------------------------------------------------


async def test_names_birth_dates_and_niks_in_non_personal_fields_are_refused(hub: Hub, workdir: Path) -> None:
    result = await register(hub, name="lpsk_copy", url="sqlite:///agencies/lpsk.sqlite", mapping=SMUGGLING)
    assert not result.errors, [e.formatted for e in result.errors]
    payload = result.data["registerSource"]
    assert payload["pending"] is False and payload["activated"] is False
    personal = {f["field"]: f for f in payload["findings"] if f["kind"] == "personal_data"}
    assert (
        personal["case:terlindung.source_key"]["severity"] == "ERROR"
        and "NAME" in personal["case:terlindung.source_key"]["message"]
    )
    assert (
        personal["case:terlindung.country"]["severity"] == "ERROR"
        and "NIK" in personal["case:terlindung.country"]["message"]
    )
    assert personal["case:terlindung.reported_at"]["severity"] == "WARNING"
    assert await hub.registry.registrations.pending() == []
    # Nothing of the protected persons is in the answer: no name, no NIK, not even in examples.
    with contextlib.closing(sqlite3.connect(workdir / "agencies" / "lpsk.sqlite")) as db:
        values = [
            v for row in db.execute("SELECT nama, nik, tanggal_lahir FROM terlindung") for v in row if v
        ]
    text = str(result.data)
    assert not [v for v in values if v in text]


async def test_a_column_named_like_personal_data_is_flagged_for_the_approver(hub: Hub) -> None:
    filed = await register(
        hub, name="lpsk_dates", url="sqlite:///agencies/lpsk.sqlite", mapping=BIRTH_DATE_AS_REPORT_DATE
    )
    payload = filed.data["registerSource"]
    assert payload["pending"] is True
    (entry,) = (await hub.execute(PENDING, principal=SECOND)).data["pendingSources"]
    flags = [f for f in entry["findings"] if f["kind"] == "personal_data"]
    assert flags and flags[0]["severity"] == "WARNING" and "tanggal_lahir" in flags[0]["message"]


async def test_findings_show_shapes_never_values(hub: Hub) -> None:
    """The NIKs read as unmapped country codes appear as ``9{16}``, not as NIKs."""
    result = await register(hub, name="lpsk_copy", url="sqlite:///agencies/lpsk.sqlite", mapping=SMUGGLING)
    examples = [e["value"] for f in result.data["registerSource"]["findings"] for e in f["examples"]]
    assert examples and "9{16}" in examples
    shape_only = re.compile(r"^(?:[Aa9]|\{\d+\}|[^A-Za-z0-9])*$")
    assert all(value is None or shape_only.match(value) for value in examples), examples


# --- the shape classifiers --------------------------------------------------------------------------------


def test_shapes_and_classifiers() -> None:
    assert shape("3374015203900001") == "9{16}"
    assert shape("Budi Santoso") == "Aa{3} Aa{6}"
    assert shape("LP/B/123/2023") == "A{2}/A/9{3}/9{4}"
    assert nik_shaped("3374015203900001") and nik_shaped("3374.0152.0390.0001")
    assert not nik_shaped("9974015203900001")  # no province 99
    assert not nik_shaped("3374019903900001")  # birth day 99
    assert phone_shaped("0812-3456-7890") and phone_shaped("+62 812 3456 789")
    assert not phone_shaped("LP/B/123/2023") and not phone_shaped("2023-01-01")
    assert name_like("Siti Nurhaliza") and name_like("MUHAMMAD RIZKI")
    assert name_like("Aurora binti Opan") and name_like("Budi")  # mononyms are common
    assert not name_like("LP/B/123/2023") and not name_like("2023-01-01") and not name_like("bin")
    names = [f"Orang Nomor{chr(65 + i)}" for i in range(20)]
    assert judge("terlindung.x", names, names_expected=False) == ("name", 20)
    assert judge("terlindung.x", names, names_expected=True) is None  # region or country names
    codes_repeating = ["Kerja Paksa"] * 15 + ["Eksploitasi Seksual"] * 15
    assert judge("permohonan.jenis", codes_repeating, names_expected=False) is None
    assert judge("permohonan.tanggal_lahir", ["2001-02-03"] * 10, names_expected=False) == ("column_name", 0)
    assert judge("permohonan.nama_kabupaten", ["x"] * 10, names_expected=False) is None
