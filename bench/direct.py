"""The baseline: hand-written SQL per agency, against each agency's own schema, same drivers.

This is what a developer who knows the five schemas would write to fetch the same rows the hub
returns, without the hub: the SQL uses every index the schema offers (``kasus.tgl_lapor``,
``permohonan.tanggal_permohonan``, ``cases.opened_at`` — kemlu stores UTC midnights, so
ordering by the timestamp is ordering by the day), parses dates only where the agency stores
them as text that does not sort (polri ``DD/MM/YYYY``, bp2mi date-times), asks for victims and
nothing else, and runs the agencies concurrently. It returns raw rows: the national
translation the hub does is part of what the ratio measures.

Drivers are the hub's: aiosqlite (one read-only connection per agency) and asyncpg (a pool).
No code of the hub is used here, so the baseline cannot inherit the hub's mistakes; region
names are mapped with the reference CSV files directly.
"""

from __future__ import annotations

import abc
import asyncio
import csv
import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hub.demo.agencies import AGENCIES

#: Agency (source name) → its code in the national vocabulary (how the hub labels it).
AGENCY_CODE = {"simfoni": "KEMENPPPA", "polri": "POLRI", "lpsk": "LPSK", "bp2mi": "BP2MI", "kemlu": "KEMLU"}

Row = Sequence[Any]


#: Connections per agency the SQLite baseline opens: as many as the hub's pool may use at once
#: for one page (the page, then one statement per relation table, concurrently).
SQLITE_CONNECTIONS = 4


class Driver(abc.ABC):
    """One backend's connections and SQL dialect details.

    ``statements`` counts every statement sent (round trips to the database), so the report
    can state the direct side's round trips as measured, beside the hub's own count.
    """

    name: str
    statements: int = 0

    @abc.abstractmethod
    async def fetch(self, agency: str, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of one statement on one agency's database."""

    def table(self, agency: str, name: str) -> str:
        return name

    @abc.abstractmethod
    def in_list(self, column: str, values: Sequence[Any], start: int = 1) -> tuple[str, list[Any]]:
        """``column IN (…)`` in the driver's parameter style, with its parameters."""

    @abc.abstractmethod
    def year_of_unix(self, column: str) -> str:
        """SQL giving the year of a Unix-seconds column."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connections."""


class SQLiteDriver(Driver):
    """aiosqlite, a small pool of read-only connections per agency file (opened once).

    Each aiosqlite connection runs its statements one after another in its own thread; with
    one connection per agency a page's child queries would queue behind each other while the
    hub runs them concurrently on its pool. :data:`SQLITE_CONNECTIONS` per agency give the
    baseline the same concurrency.
    """

    name = "sqlite"

    def __init__(self, directory: Path, connections: int = SQLITE_CONNECTIONS) -> None:
        self.directory = directory
        self.connections = connections
        self._free: dict[str, asyncio.Queue[Any]] = {}
        self._all: list[Any] = []

    async def open(self) -> None:
        import aiosqlite

        for agency in AGENCIES:
            uri = f"file:{self.directory / f'{agency}.sqlite'}?mode=ro"
            queue: asyncio.Queue[Any] = asyncio.Queue()
            for _ in range(self.connections):
                conn = await aiosqlite.connect(uri, uri=True)
                self._all.append(conn)
                queue.put_nowait(conn)
            self._free[agency] = queue

    async def fetch(self, agency: str, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.statements += 1
        conn = await self._free[agency].get()
        try:
            async with conn.execute(sql, tuple(params)) as cursor:
                return list(await cursor.fetchall())
        finally:
            self._free[agency].put_nowait(conn)

    def in_list(self, column: str, values: Sequence[Any], start: int = 1) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    def year_of_unix(self, column: str) -> str:
        return f"strftime('%Y', {column}, 'unixepoch')"

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
        self._all.clear()
        self._free.clear()


class PostgresDriver(Driver):
    """asyncpg, one pool; tables are schema-qualified (one schema per agency)."""

    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(self.url, min_size=len(AGENCIES), max_size=2 * len(AGENCIES))

    async def fetch(self, agency: str, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.statements += 1
        async with self._pool.acquire() as conn:
            return list(await conn.fetch(sql, *params))

    def table(self, agency: str, name: str) -> str:
        return f"{agency}.{name}"

    def in_list(self, column: str, values: Sequence[Any], start: int = 1) -> tuple[str, list[Any]]:
        return f"{column} = ANY(${start})", [list(values)]

    def year_of_unix(self, column: str) -> str:
        return f"to_char(to_timestamp({column}) AT TIME ZONE 'UTC', 'YYYY')"

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def open_driver(backend: str, directory: Path, postgres_url: str | None) -> Driver:
    driver: SQLiteDriver | PostgresDriver
    if backend == "sqlite":
        driver = SQLiteDriver(directory)
    else:
        assert postgres_url is not None
        driver = PostgresDriver(postgres_url)
    await driver.open()
    return driver


# --- a page of cases with victims, services and stage history ---------------------------------


@dataclass(slots=True)
class DirectCase:
    """A case row as fetched, with its children's rows."""

    agency: str
    key: Any
    source_key: str
    day: str  # ISO date, for the cross-agency merge
    row: Row
    victims: list[Row] = field(default_factory=list)
    services: list[Row] = field(default_factory=list)
    stages: list[Row] = field(default_factory=list)


def _iso_from_dmy(text: str) -> str:
    return f"{text[6:10]}-{text[3:5]}-{text[0:2]}"


def _iso_from_unix(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


@dataclass(frozen=True, slots=True)
class _PageSql:
    """One agency's page statement: columns, table, order (newest first) and key column."""

    columns: str
    table: str
    order: str
    key: str


_PAGE_SQL = {
    "simfoni": _PageSql(
        "id_kasus, no_registrasi, tgl_lapor, kode_wilayah, negara_tujuan, status_kasus",
        "kasus",
        "tgl_lapor DESC, id_kasus DESC",
        "id_kasus",
    ),
    "polri": _PageSql(
        "no_lp, tgl_lp, provinsi, kabupaten, negara, modus",
        "laporan_polisi",
        "substr(tgl_lp, 7, 4) || substr(tgl_lp, 4, 2) || substr(tgl_lp, 1, 2) DESC, no_lp DESC",
        "no_lp",
    ),
    "lpsk": _PageSql(
        "no_permohonan, tanggal_permohonan, kode_kabupaten, negara_kejadian, jenis_eksploitasi",
        "permohonan",
        "tanggal_permohonan DESC, no_permohonan DESC",
        "no_permohonan",
    ),
    # One row is the complaint, its complainant (the victim) and a repatriation if any.
    "bp2mi": _PageSql(
        "id_pengaduan, no_pengaduan, tanggal_pengaduan, kab_asal, negara_penempatan, "
        "jenis_pengaduan, jenis_kelamin, tgl_lahir, tgl_pemulangan, debarkasi",
        "pengaduan",
        "substr(tanggal_pengaduan, 1, 10) DESC, id_pengaduan DESC",
        "id_pengaduan",
    ),
    "kemlu": _PageSql(
        "case_id, opened_at, country_iso3, category, mission, status",
        "cases",
        "opened_at DESC, case_id DESC",
        "case_id",
    ),
}

#: How a page statement is shaped: ``rows`` sorts whole rows and cuts the page; ``keys`` first
#: picks the page's keys in order (an index-only walk where the order is indexed), then reads
#: those rows, as the hub's statement does. Both are one statement (one round trip).
SHAPES = ("keys", "rows")


def page_statement(driver: Driver, agency: str, limit: int, shape: str = "keys") -> str:
    spec, table = _PAGE_SQL[agency], driver.table(agency, _PAGE_SQL[agency].table)
    if shape == "rows":
        return f"SELECT {spec.columns} FROM {table} ORDER BY {spec.order} LIMIT {limit}"
    if shape != "keys":
        raise ValueError(shape)
    return (
        f"SELECT {spec.columns} FROM {table} WHERE {spec.key} IN "
        f"(SELECT {spec.key} FROM {table} ORDER BY {spec.order} LIMIT {limit}) ORDER BY {spec.order}"
    )


async def _page_of(driver: Driver, agency: str, limit: int, shape: str = "keys") -> list[DirectCase]:
    """The agency's newest ``limit`` cases, ordered as the hub orders them (day, key) desc."""
    rows = await driver.fetch(agency, page_statement(driver, agency, limit, shape))
    if agency == "simfoni":
        return [DirectCase(agency, r[0], r[1], r[2], r) for r in rows]
    if agency == "polri":
        return [DirectCase(agency, r[0], r[0], _iso_from_dmy(r[1]), r) for r in rows]
    if agency == "lpsk":
        return [DirectCase(agency, r[0], r[0], r[1], r) for r in rows]
    if agency == "bp2mi":
        cases = []
        for r in rows:
            case = DirectCase(agency, r[0], r[1], r[2][:10], r, victims=[r])
            if r[8] is not None:
                case.services.append(r)
            cases.append(case)
        return cases
    if agency == "kemlu":
        return [DirectCase(agency, r[0], r[0], _iso_from_unix(r[1]), r) for r in rows]
    raise ValueError(agency)


async def _children_of(driver: Driver, agency: str, cases: list[DirectCase]) -> None:
    """Victims, services, stage events (and simfoni's exploitation codes) of these cases.

    The agency's relation tables are read concurrently (one statement each), as the hub's
    loaders do, on the driver's pool.
    """
    if agency == "bp2mi" or not cases:
        return
    t = driver.table
    by_key = {c.key: c for c in cases}
    keys = list(by_key)

    async def rows(sql_head: str, column: str, tail: str = "", extra: str = "") -> list[Row]:
        condition, params = driver.in_list(column, keys)
        return await driver.fetch(agency, f"{sql_head} WHERE {extra}{condition}{tail}", params)

    if agency == "simfoni":
        codes, victims, services = await asyncio.gather(
            rows(f"SELECT id_kasus, kode_eksploitasi FROM {t(agency, 'kasus_eksploitasi')}", "id_kasus"),
            rows(
                f"SELECT id_kasus, id_korban, jenis_kelamin, tgl_lahir FROM {t(agency, 'korban')}", "id_kasus"
            ),
            rows(
                f"SELECT id_kasus, id_layanan, jenis_layanan, status_layanan, tgl_mulai, tgl_selesai "
                f"FROM {t(agency, 'layanan')}",
                "id_kasus",
            ),
        )
        for r in codes:
            by_key[r[0]].row = (*by_key[r[0]].row, r[1])
        _attach(by_key, victims, "victims")
        _attach(by_key, services, "services")
    elif agency == "polri":
        # A victim examined as a witness is a victim record too (saksi_korban = 1).
        victims, witnesses, stages = await asyncio.gather(
            rows(f"SELECT no_lp, id, jk, tgl_lahir, umur FROM {t(agency, 'korban')}", "no_lp"),
            rows(
                f"SELECT no_lp, id, jk, umur FROM {t(agency, 'saksi')}",
                "no_lp",
                extra="saksi_korban = 1 AND ",
            ),
            rows(
                f"SELECT no_lp, id, tahap, tgl, no_surat FROM {t(agency, 'tahapan')}", "no_lp", " ORDER BY id"
            ),
        )
        _attach(by_key, victims, "victims")
        _attach(by_key, witnesses, "victims")
        _attach(by_key, stages, "stages")
    elif agency == "lpsk":
        # The benchmark reads as a coordinator seconded from LPSK (bench/measure.py), who sees
        # LPSK's protected witnesses: a case's victims are its victims and victim-witnesses, and
        # every programme counts.
        victims, services = await asyncio.gather(
            rows(
                f"SELECT no_permohonan, id_terlindung, jenis_kelamin, tanggal_lahir, status_hukum "
                f"FROM {t(agency, 'terlindung')}",
                "no_permohonan",
                extra="status_hukum IN ('KORBAN', 'SAKSI_KORBAN') AND ",
            ),
            rows(
                f"SELECT no_permohonan, id_program, jenis_program, status, mulai, selesai "
                f"FROM {t(agency, 'program_perlindungan')}",
                "no_permohonan",
            ),
        )
        _attach(by_key, victims, "victims")
        _attach(by_key, services, "services")
    elif agency == "kemlu":
        victims, services = await asyncio.gather(
            rows(
                f"SELECT case_id, citizen_id, sex, date_of_birth FROM {t(agency, 'citizens')}",
                "case_id",
                extra="role = 'VICTIM' AND ",
            ),
            rows(
                f"SELECT case_id, assistance_id, kind, status, started_at, ended_at "
                f"FROM {t(agency, 'assistance')}",
                "case_id",
            ),
        )
        _attach(by_key, victims, "victims")
        _attach(by_key, services, "services")


def _attach(by_key: dict[Any, DirectCase], rows: list[Row], relation: str) -> None:
    for r in rows:
        getattr(by_key[r[0]], relation).append(r)


async def case_page(
    driver: Driver, first: int, agencies: Sequence[str] = AGENCIES, shape: str = "keys"
) -> list[DirectCase]:
    """The newest ``first`` cases of ``agencies`` with victims, services and stage history.

    Two waves, like any fan-out: each agency's newest ``first`` cases (concurrently), a merge
    in the hub's order (report day, then source name, newest first), then the children of the
    cases that made the page (concurrently, per agency and per relation table). ``shape`` is
    the page statement's (:data:`SHAPES`).
    """
    streams = await asyncio.gather(*(_page_of(driver, a, first, shape) for a in agencies))
    merged = heapq.merge(*streams, key=lambda c: (c.day, c.agency), reverse=True)
    page = [case for _, case in zip(range(first), merged, strict=False)]
    per_agency: dict[str, list[DirectCase]] = defaultdict(list)
    for case in page:
        per_agency[case.agency].append(case)
    await asyncio.gather(*(_children_of(driver, a, cs) for a, cs in per_agency.items()))
    return page


# --- statistics: cases by province and year ----------------------------------------------------

_REFERENCE = Path(__file__).resolve().parent.parent / "hub" / "vocabulary" / "reference_data"


def _province_codes() -> dict[str, str]:
    with (_REFERENCE / "provinces.csv").open(encoding="utf-8") as f:
        return {row["name"]: row["code"] for row in csv.DictReader(f)}


def _bp2mi_regency_codes() -> dict[str, str]:
    """bp2mi's ``kab_asal`` spelling (``KAB. INDRAMAYU``, ``KOTA SEMARANG``) → regency code."""
    names = {}
    with (_REFERENCE / "regencies.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            upper = row["name"].upper()
            if upper.startswith("KABUPATEN "):
                upper = "KAB. " + upper[len("KABUPATEN ") :]
            names[upper] = row["code"]
    return names


Cell = tuple[str | None, str | None]


async def cases_by_province_year(driver: Driver) -> tuple[dict[Cell, int], int]:
    """CASES grouped by (province code, year) over all agencies, and the total: one GROUP BY each."""
    t = driver.table
    queries = {
        "simfoni": f"SELECT substr(kode_wilayah, 1, 2), substr(tgl_lapor, 1, 4), count(*) "
        f"FROM {t('simfoni', 'kasus')} GROUP BY 1, 2",
        "polri": f"SELECT provinsi, substr(tgl_lp, 7, 4), count(*) FROM {t('polri', 'laporan_polisi')} "
        f"GROUP BY 1, 2",
        "lpsk": f"SELECT substr(kode_kabupaten, 1, 2), substr(tanggal_permohonan, 1, 4), count(*) "
        f"FROM {t('lpsk', 'permohonan')} GROUP BY 1, 2",
        "bp2mi": f"SELECT kab_asal, substr(tanggal_pengaduan, 1, 4), count(*) FROM {t('bp2mi', 'pengaduan')} "
        f"GROUP BY 1, 2",
        "kemlu": f"SELECT NULL, {driver.year_of_unix('opened_at')}, count(*) FROM {t('kemlu', 'cases')} "
        f"GROUP BY 1, 2",
    }
    results = await asyncio.gather(*(driver.fetch(a, sql) for a, sql in queries.items()))
    provinces = _province_codes()
    regencies = _bp2mi_regency_codes()
    cells: dict[Cell, int] = defaultdict(int)
    total = 0
    for agency, rows in zip(queries, results, strict=True):
        for place, year, count in rows:
            if agency == "polri":
                province = provinces.get(place)
            elif agency == "bp2mi":
                code = regencies.get(place)
                province = code[:2] if code else None
            else:
                province = place
            cells[(province, year)] += int(count)
            total += int(count)
    return dict(cells), total


def day_of(value: date | str | None) -> str | None:
    """ISO text of a date (for comparing with the hub's output)."""
    return value.isoformat() if isinstance(value, date) else value
