"""docs/onboarding.md, followed exactly, on a real PostgreSQL: mapping → check → add → query.

The guide's fenced blocks are executed as written: ``sh`` lines (``export``, ``psql -f``,
``tppo-hub …``), the ``sql`` block, and the ``graphql`` queries; only the database host in the
URLs is replaced by the test server's. A hub is running throughout (serving a demo agency), and
picks the new source up from its store without a restart. Expected answers come from direct
SQL on the Kemensos tables and code lists written out here, never from the hub.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.access.policy import Principal
from hub.engine.config import load_config
from hub.engine.sources import SourceRegistry
from hub.server.app import Hub
from hub.server.cli import main

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "onboarding.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", GUIDE, flags=re.S)
GUIDE_HOST = "db.kemensos.example/rehsos"

COORDINATOR = Principal(
    subject="task-force", role="coordinator", purpose="onboarding check", method="in_process"
)
ADMIN = Principal(subject="ops", role="admin", method="in_process")
SECOND_ADMIN = Principal(subject="ops-two", role="admin", method="in_process")

# The code list of examples/kemensos/mapping.toml, written out independently.
BENTUK = {
    "ES": "SEXUAL_EXPLOITATION",
    "KP": "FORCED_LABOUR",
    "PRT": "DOMESTIC_SERVITUDE",
    "PO": "FORCED_CRIMINALITY",
    "AN": "CHILD_LABOUR",
    "PK": "FORCED_MARRIAGE",
    "LN": "OTHER",
}
# The regency names of examples/kemensos/schema.sql and the Kemendagri codes they mean.
REGIONS = {
    "Kab. Indramayu": "32.12",
    "KAB. INDRAMAYU": "32.12",
    "Kabupaten Indramajoe": "32.12",
    "Kota Surabaya": "35.78",
    "Kota Surabaja": "35.78",
    "Kab. Cilacapp": "33.01",
    "Kabupaten Cilacap": "33.01",
    "Kab. Lombok Timur": "52.03",
    "Kota Medan": "12.71",
    "Kab. Sukabumi": "32.02",
    "Kota Kupang": "53.71",
    "Kab. Nunukan": "65.03",
    "Antah Berantah": None,
}
COUNTRIES = {
    "Malaysia": "MY",
    "Arab Saudi": "SA",
    "Kamboja": "KH",
    "Hongkong": "HK",
    "Malasya": None,
    None: None,
}


def blocks(language: str) -> list[str]:
    return [text for lang, text in BLOCKS if lang == language]


def nik_valid(nik: str) -> bool:
    """Valid in form: 16 digits, a province code, birth day 01-31 (+40), month 01-12, serial."""
    if len(nik) != 16 or not nik.isdigit():
        return False
    day, month = int(nik[6:8]), int(nik[8:10])
    return (1 <= day <= 31 or 41 <= day <= 71) and 1 <= month <= 12 and nik[12:] != "0000"


@pytest.fixture()
def kemensos_db(postgres_server: Any) -> str:
    """An empty database; the guide's role dropped first so its CREATE ROLE runs as written."""
    url = postgres_server.create_database("kemensos_guide", replace=True)
    postgres_server.psql("DROP ROLE IF EXISTS tppo_reader")
    return url


def _local(url: str, server_url: str) -> str:
    """The guide's URL with the test server's host, port and database (and superuser)."""
    host_db = server_url.split("@", 1)[1]  # 127.0.0.1:PORT/kemensos_guide
    return url.replace(GUIDE_HOST, host_db).replace("postgres@", "tppo@")


async def _run_cli(argv: list[str]) -> tuple[int, str]:
    """``tppo-hub …`` in-process (in a thread: the CLI runs its own event loop)."""
    import contextlib
    import io

    out = io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out):
            return main(argv)

    code = await asyncio.to_thread(call)
    return code, out.getvalue()


async def test_the_onboarding_guide_works_as_written(
    kemensos_db: str,
    demo_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The hub that is already running: one demo agency, its store in the working directory.
    shutil.copy(demo_dir / "polri.sqlite", tmp_path / "polri.sqlite")
    (tmp_path / "hub.toml").write_text(
        '[hub]\nstore = "sqlite:///hub-store.sqlite"\n\n'
        '[registration]\nallowed_hosts = ["127.0.0.1", "localhost"]\n\n'
        '[[sources]]\nname = "polri"\nmapping = "polri"\nurl = "sqlite:///polri.sqlite"\n',
        encoding="utf-8",
    )
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(SourceRegistry, "watch_seconds", 0.2)
    hub = Hub(load_config(tmp_path / "hub.toml"))
    await hub.start()
    try:
        await _follow_the_guide(hub, kemensos_db, monkeypatch, caplog)
    finally:
        await hub.stop()


async def _follow_the_guide(
    hub: Hub, server_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sh_blocks = blocks("sh")
    assert len(sh_blocks) >= 5, "the guide's shell steps"
    outputs: dict[str, tuple[int, str]] = {}
    sql_done = False
    for block in sh_blocks:
        for line in block.strip().splitlines():
            argv = shlex.split(line)
            if argv[0] == "export":
                name, _, value = argv[1].partition("=")
                monkeypatch.setenv(name, _local(value, server_url))
            elif argv[0] == "psql":
                assert argv[2] == "-f"
                conn = await asyncpg.connect(os.path.expandvars(argv[1]))
                try:
                    await conn.execute(Path(argv[3]).read_text(encoding="utf-8"))
                    if not sql_done:  # step 2 of the guide, right after the schema
                        (role_sql,) = blocks("sql")
                        await conn.execute(role_sql)
                        sql_done = True
                finally:
                    await conn.close()
            else:
                assert argv[0] == "tppo-hub", line
                code, out = await _run_cli(argv[1:])
                outputs[argv[2]] = (code, out)
                if argv[2] == "add":
                    await _wait_for(hub, "kemensos", present=True)
                    await _check_answers(hub, server_url)
                    await _register_over_graphql(hub)
                elif argv[2] == "remove":
                    await _wait_for(hub, "kemensos", present=False)
    assert sql_done
    # Step 4: the check passes with the findings the guide shows.
    code, out = outputs["check"]
    assert code == 0
    (shown,) = blocks("text")
    assert " ".join(shown.split()) in " ".join(out.split())
    (verdict,) = re.findall(r"`(OK: the mapping can serve[^`]*)`", GUIDE)
    assert verdict in out
    assert outputs["add"][0] == 0 and outputs["remove"][0] == 0
    # The password of the reader's URL never reached an output or a log line.
    assert "change-me" not in out + outputs["add"][1]
    assert "change-me" not in caplog.text
    # The demo agency kept serving throughout.
    result = await hub.execute("{ sources { name status } }")
    assert {s["name"]: s["status"] for s in result.data["sources"]} == {"polri": "UP"}


async def _wait_for(hub: Hub, name: str, *, present: bool) -> None:
    for _ in range(100):
        result = await hub.execute("{ sources { name } }")
        if (name in {s["name"] for s in result.data["sources"]}) == present:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the running hub did not {'add' if present else 'drop'} {name}")


async def _query(hub: Hub, text: str, principal: Principal = COORDINATOR) -> dict[str, Any]:
    result = await hub.execute(text, principal=principal)
    assert not result.errors, [e.formatted for e in result.errors]
    return result.data


async def _check_answers(hub: Hub, server_url: str) -> None:
    queries = [q for q in blocks("graphql") if not q.lstrip().startswith("mutation")]
    sources_q, cases_q, statistics_q, quality_q = queries
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute("SET search_path = rehsos")
        await _check_sources(await _query(hub, sources_q))
        await _check_cases(await _query(hub, cases_q), conn)
        await _check_statistics(await _query(hub, statistics_q), conn)
        await _check_quality(await _query(hub, quality_q), conn)
    finally:
        await conn.close()


async def _check_sources(data: dict[str, Any]) -> None:
    by_name = {s["name"]: s for s in data["sources"]}
    assert by_name["kemensos"]["status"] == "UP"
    assert by_name["kemensos"]["agency"] == {"code": "KEMENSOS", "name": "Kementerian Sosial"}
    assert by_name["polri"]["status"] == "UP"


async def _check_cases(data: dict[str, Any], conn: asyncpg.Connection) -> None:
    cases = data["cases"]
    assert cases["totalCount"] == await conn.fetchval(
        "SELECT count(*) FROM rujukan WHERE jenis_kasus = 'TPPO'"
    )
    expected = await conn.fetch(
        "SELECT id_rujukan, no_rujukan, tgl_rujukan, kab_kota, negara, bentuk_eksploitasi FROM rujukan "
        "WHERE jenis_kasus = 'TPPO' ORDER BY tgl_rujukan, id_rujukan LIMIT 5"
    )
    nodes = [e["node"] for e in cases["edges"]]
    assert [n["sourceKey"] for n in nodes] == [r["no_rujukan"] for r in expected]
    for node, row in zip(nodes, expected, strict=True):
        assert node["reportedAt"] == row["tgl_rujukan"].isoformat()
        assert (node["region"] or {}).get("code") == REGIONS[row["kab_kota"]]
        assert node["countryOfExploitation"] == COUNTRIES[row["negara"]]
        assert node["exploitationTypes"] == [BENTUK.get(row["bentuk_eksploitasi"], "UNKNOWN")]
        victims = await conn.fetch(
            "SELECT rk.peran, k.jk, k.tgl_lahir, k.anak FROM rujukan_klien rk JOIN klien k USING (id_klien) "
            "WHERE rk.id_rujukan = $1",
            row["id_rujukan"],
        )
        expected_victims = Counter(
            (
                {"KORBAN": "VICTIM", "SAKSI_KORBAN": "VICTIM_WITNESS"}[v["peran"]],
                {"L": "MALE", "P": "FEMALE"}[v["jk"]],
                _is_child(v["tgl_lahir"], v["anak"], row["tgl_rujukan"]),
            )
            for v in victims
        )
        got = Counter((v["roles"][0], v["sex"], v["isChild"]) for v in node["victims"])
        assert got == expected_victims
        services = await conn.fetch(
            "SELECT l.jenis, l.mulai, b.nama_balai FROM layanan l JOIN balai b USING (id_balai) "
            "JOIN rujukan_klien rk ON rk.id = l.id_rujukan_klien WHERE rk.id_rujukan = $1",
            row["id_rujukan"],
        )
        kinds = {"ASRAMA": "SHELTER", "REHSOS": "SOCIAL_REHABILITATION", "PEMULANGAN": "REPATRIATION"}
        assert Counter((s["type"], s["startDate"], s["providerUnit"]) for s in node["services"]) == Counter(
            (kinds[s["jenis"]], datetime.fromtimestamp(s["mulai"], UTC).date().isoformat(), s["nama_balai"])
            for s in services
        )


def _is_child(born_text: str | None, flag: str | None, at: date) -> bool | None:
    if born_text:
        day, month, year = (int(p) for p in born_text.split("/"))
        try:
            born = date(year, month, day)
        except ValueError:
            born = None
        if born is not None:
            return at.year - born.year - ((at.month, at.day) < (born.month, born.day)) < 18
    return {"Y": True, "T": False}.get(flag or "")


async def _check_statistics(data: dict[str, Any], conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "SELECT r.bentuk_eksploitasi, count(*) AS n FROM rujukan_klien rk JOIN rujukan r USING (id_rujukan) "
        "WHERE r.jenis_kasus = 'TPPO' GROUP BY r.bentuk_eksploitasi"
    )
    expected: Counter[str] = Counter()
    for row in rows:
        expected[BENTUK.get(row["bentuk_eksploitasi"], "UNKNOWN")] += row["n"]
    statistics = data["statistics"]
    assert {r["keys"][0]["value"]: r["count"] for r in statistics["rows"]} == dict(expected)
    assert statistics["total"] == sum(expected.values())


async def _check_quality(data: dict[str, Any], conn: asyncpg.Connection) -> None:
    (report,) = data["dataQuality"]
    assert report["status"] == "MEASURED"
    fields = {(f["part"], f["field"]): f for f in report["fields"]}
    retired = await conn.fetchval(
        "SELECT count(*) FROM rujukan WHERE jenis_kasus = 'TPPO' AND bentuk_eksploitasi = 'XX'"
    )
    exploitation = fields[("rujukan", "exploitation_types")]
    assert exploitation["unmappedValues"] == [{"value": "XX", "count": retired, "mapsTo": "UNKNOWN"}]
    assert "ORGAN_REMOVAL" in exploitation["coverage"]["missing"]
    niks = await conn.fetch(
        "SELECT k.nik FROM rujukan_klien rk JOIN klien k USING (id_klien) JOIN rujukan r USING (id_rujukan) "
        "WHERE r.jenis_kasus = 'TPPO' AND k.nik IS NOT NULL"
    )
    assert report["invalidNiks"] == sum(1 for r in niks if not nik_valid(r["nik"])) > 0
    total_links = await conn.fetchval(
        "SELECT count(*) FROM rujukan_klien rk JOIN rujukan r USING (id_rujukan) WHERE r.jenis_kasus = 'TPPO'"
    )
    assert fields[("rujukan_klien", "nik")]["completeness"] == round(100 * len(niks) / total_links, 2)
    assert fields[("rujukan_klien", "nik")]["unmappedValues"] == []  # personal: never listed


async def _register_over_graphql(hub: Hub) -> None:
    """Step 5's alternative: the admin mutations of the guide (four eyes), replacing the CLI's
    registration."""
    register, approve = [q for q in blocks("graphql") if q.lstrip().startswith("mutation")]
    variables = {
        "mapping": (ROOT / "examples" / "kemensos" / "mapping.toml").read_text(encoding="utf-8"),
        "url": os.environ["KEMENSOS_READER_URL"],
    }
    result = await hub.execute(register, variables, principal=ADMIN)
    assert not result.errors, [e.formatted for e in result.errors]
    filed = result.data["registerSource"]
    assert filed["activated"] is False and filed["pending"] is True
    result = await hub.execute(approve, {"revision": filed["revision"]}, principal=ADMIN)
    assert [e.extensions["code"] for e in result.errors] == ["BAD_USER_INPUT"]  # not the registrant
    result = await hub.execute(approve, {"revision": filed["revision"]}, principal=SECOND_ADMIN)
    assert not result.errors, [e.formatted for e in result.errors]
    payload = result.data["approveSource"]
    assert payload["activated"] is True and payload["source"] == {"name": "kemensos", "status": "UP"}
    assert "change-me" not in str(result.data) + str(filed)


def test_the_guide_shows_the_mapping_that_ships() -> None:
    """Every mapping excerpt of the guide is part of examples/kemensos/mapping.toml."""
    mapping = " ".join((ROOT / "examples" / "kemensos" / "mapping.toml").read_text(encoding="utf-8").split())
    excerpts = blocks("toml")
    assert len(excerpts) >= 5
    for excerpt in excerpts:
        assert " ".join(excerpt.split()) in mapping, excerpt[:60]
