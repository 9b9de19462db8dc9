"""Dates parsed in SQL stay compact and mean what a plain Python reading of the format says.

Issue 11's value layer built each date from building blocks that repeated their argument, so
kemlu's ``unix`` date was a 38 kB statement reading ``opened_at`` ~180 times per row (1.5 s a
page). Here every format is compiled on every dialect and the number of times it reads its
column is bounded; and the expressions are evaluated by SQLite and PostgreSQL on tricky values
and compared with an independent Python reading of each format (no SQL involved), for a text
column and for an INTEGER column (the typed shortcut must give the same dates).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Date, Integer, MetaData, Table, Text, create_engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sqldates import CANDIDATES, SERIAL, UNIX, parse_date

METADATA = MetaData()
VALUES = Table(
    "v", METADATA, Column("id", Integer, primary_key=True), Column("txt", Text), Column("num", BigInteger)
)
DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}

#: Most times a format may read its column (SQLite GLOBs read it a few times; regular
#: expressions once or twice). Numeric patterns are read twice over (clean text as it is, the
#: rest trimmed): SQLite cuts them at fixed positions per shape, PostgreSQL with split_part
#: (7 reads a branch, plus the test which branch); month names are bounded, not yet small.
MOST_READS = {"YYYY-MM-DD": 12, SERIAL: 10, UNIX: 12}
PATTERN_READS = {"sqlite": 96, "postgresql": 16}
#: PostgreSQL cuts a month-name date with split_part; SQLite searches the separators with instr.
NAMED_MONTH_READS = {"sqlite": 120, "postgresql": 12}


def _sql(fmt: str, column: Any, dialect: str) -> str:
    expression = parse_date(column, (fmt,))
    return str(expression.compile(dialect=DIALECTS[dialect], compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("fmt", CANDIDATES)
@pytest.mark.parametrize("column", ["txt", "num"])
def test_each_format_reads_its_column_a_bounded_number_of_times(fmt: str, column: str, dialect: str) -> None:
    sql = _sql(fmt, VALUES.c[column], dialect)
    reads = sql.count(f"v.{column}")
    most = MOST_READS.get(fmt, (NAMED_MONTH_READS if "MMM" in fmt else PATTERN_READS)[dialect])
    assert 1 <= reads <= most, (fmt, dialect, reads)
    if fmt in MOST_READS:
        assert len(sql) <= 1000, (fmt, dialect, len(sql))


def test_several_formats_cost_the_sum_of_their_parts() -> None:
    """A list of formats is a coalesce: no block re-inlines another."""
    alone = sum(_sql(f, VALUES.c.txt, "sqlite").count("v.txt") for f in ("YYYY-MM-DD", SERIAL, UNIX))
    together = str(
        parse_date(VALUES.c.txt, ("YYYY-MM-DD", SERIAL, UNIX)).compile(
            dialect=DIALECTS["sqlite"], compile_kwargs={"literal_binds": True}
        )
    ).count("v.txt")
    assert together == alone


# --- the same dates as a plain Python reading ----------------------------------------------------

_NUMBER = re.compile(r"^(-?)(\d+)(\.\d*)?$")


def _python_iso(text: str) -> str | None:
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})([ T].*)?$", text)
    if match is None:
        return None
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return day.isoformat()


def _python_unix(text: str) -> str | None:
    match = _NUMBER.match(text)
    if match is None or len(match[2]) > 11:
        return None
    seconds = int(match[1] + match[2])
    try:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)).date().isoformat()
    except OverflowError:  # before 0001-01-01: no date Python (or the records) can hold
        return None


def _python_serial(text: str) -> str | None:
    match = _NUMBER.match(text)
    if match is None or match[1] or len(match[2]) > 7:
        return None
    days = int(match[2])
    if not 61 <= days <= 2958465:
        return None
    return (date(1899, 12, 30) + timedelta(days=days)).isoformat()


def _python_numeric(fmt: str) -> Any:
    """``DD/MM/YYYY`` and its kin: one- or two-digit day and month, a time after a space."""
    separator = fmt[2] if fmt[2] in "/-." else fmt[4]
    parts = fmt.split(separator)
    digits = {"DD": r"(\d{1,2})", "MM": r"(\d{1,2})", "YYYY": r"(\d{4})"}
    shape = re.compile("^" + re.escape(separator).join(digits[p] for p in parts) + "( .*)?$")

    def read(text: str) -> str | None:
        match = shape.match(text)
        if match is None:
            return None
        numbers = dict(zip(parts, (int(match[i]) for i in (1, 2, 3)), strict=True))
        try:
            return date(numbers["YYYY"], numbers["MM"], numbers["DD"]).isoformat()
        except ValueError:
            return None

    return read


_MONTH_NUMBERS = {
    "januari": 1, "january": 1, "jan": 1, "februari": 2, "pebruari": 2, "february": 2, "feb": 2, "peb": 2,
    "maret": 3, "march": 3, "mar": 3, "april": 4, "apr": 4, "mei": 5, "may": 5, "juni": 6, "june": 6,
    "jun": 6, "juli": 7, "july": 7, "jul": 7, "agustus": 8, "august": 8, "aug": 8, "agu": 8, "agt": 8,
    "ags": 8, "september": 9, "sept": 9, "sep": 9, "oktober": 10, "october": 10, "okt": 10, "oct": 10,
    "november": 11, "nopember": 11, "nov": 11, "nop": 11, "desember": 12, "december": 12, "des": 12,
    "dec": 12,
}  # fmt: skip


def _python_named(fmt: str) -> Any:
    """``D MMMM YYYY`` and ``DD-MMM-YYYY``: a month name (Indonesian or English, any case) between
    a one- or two-digit day and a four-digit year. Spaced: dots dropped and double spaces
    halved twice, a time may follow the year; otherwise the date ends at the first space."""
    separator = " " if " " in fmt else fmt[2]
    order = [p[0] for p in fmt.split(separator)]

    def read(text: str) -> str | None:
        if separator == " ":
            text = text.replace(".", "").replace("  ", " ").replace("  ", " ")
            parts = text.split(" ")[:3]
        else:
            parts = text.split(" ")[0].split(separator)
            if len(parts) != 3:
                return None
        if len(parts) != 3:
            return None
        named = dict(zip(order, parts, strict=True))
        if not re.fullmatch(r"[0-9]{1,2}", named["D"]) or not re.fullmatch(r"[0-9]{4}", named["Y"]):
            return None
        month = _MONTH_NUMBERS.get(named["M"].lower())
        if month is None or named["Y"] == "0000":
            return None
        try:
            return date(int(named["Y"]), month, int(named["D"])).isoformat()
        except ValueError:
            return None

    return read


NUMERIC = ("DD/MM/YYYY", "DD-MM-YYYY", "DD.MM.YYYY", "YYYY/MM/DD", "MM/DD/YYYY")
NAMED = ("D MMMM YYYY", "DD-MMM-YYYY")
READERS = {"YYYY-MM-DD": _python_iso, UNIX: _python_unix, SERIAL: _python_serial}
READERS.update({fmt: _python_numeric(fmt) for fmt in NUMERIC})
READERS.update({fmt: _python_named(fmt) for fmt in NAMED})
TEXTS = [
    "2023-07-01", "2024-02-29", "2023-02-29", "2023-04-31", "2023-13-01", "2023-00-10", "0000-01-01",
    "2023-07-01 08:00", "2023-07-01T08:00:00", "2023-07-0108", " 2023-07-01 ", "2023-7-1", "",
    "0", "86399", "86400", "-86400", "-1", "1690848000", "1690848000.75", "1690848000.", ".5", "1.2.3",
    "99999999999", "-99999999999",
    "-62135596800", "-62135596801", "100000000000", "00000000001", "12a", "--5", "-", "29775", "29775.5",
    "60", "61", "2958465", "2958466", "0000061", "1e5", "+5", "NaN",
    "07/10/2023", "7/10/2023", "07/1/2023", "7/1/2023", " 07/10/2023 ", "07/10/2023 00:00:00", "31/02/2023",
    "29/02/2024", "29/02/2023", "00/00/0000", "32/01/2023", "01/13/2023", "1/1/0000", "07/10/20231",
    "007/10/2023", "07-10-2023", "07.10.2023", "2023/10/07", "2023/1/7", "2023/02/29", "10/07/2023x",
    "7/10/2023 ", "12/31/2023", "07 10 2023",
    "7 Juli 1980", "07 July 1980", "7  Juli 1980", "7 Agt. 1980", "7 JULI 1980 08:00", "31 Feb 2023",
    "29 Februari 2024", "29 Pebruari 2023", "7 Juli 80", "123 Juli 1980", "7 Juli 0000", "7 Juli",
    "7 Julio 1980", "7 Juli 1980x", "a7 Juli 1980", "7     Juli 1980", "07-Jul-2023", "7-agt-2023",
    "07-Jul-2023 00:00:00", "07-Jul-2023-5", "07-Jul", "0 7-Jul-2023", "07-Jul 1-2023", "31-Des-2023",
    "07-Jul-2023x", "07-JUL-2023", "7.Juli.1980",
    # Spaces around and other whitespace: a value not starting with a space is read as it is on
    # PostgreSQL (no trim), so trailing spaces, a leading tab or a no-break space must read alike.
    "2023-07-01 ", "2023-07-01  08:00  ", "  2023-07-01", "\t2023-07-01", "2023-07-01\t", "\u00a02023-07-01",
    "07/10/2023   ", "  07/10/2023", "\t07/10/2023", "07/10/2023\t08:00", "2023/10/07 ", " 7 Juli 1980",
    "7 Juli 1980  ", " ", "   ", "\t",
]  # fmt: skip
INTEGERS = [0, 1, -1, 86400, -86400, 1690848000, 99999999999, -99999999999, 100000000000, 29775, 61, 60]


def _expected(fmt: str, value: Any) -> str | None:
    # The value layer trims spaces (SQL ``trim``), not tabs or other whitespace.
    return READERS[fmt](str(value).strip(" ")) if value is not None else None


def _check(conn: Any) -> None:
    METADATA.create_all(conn)
    rows = [{"id": i, "txt": t, "num": None} for i, t in enumerate(TEXTS)]
    rows += [{"id": 1000 + i, "txt": None, "num": n} for i, n in enumerate(INTEGERS)]
    if True:
        conn.execute(insert(VALUES), rows)
        for fmt in READERS:
            stmt = select(
                VALUES.c.txt, VALUES.c.num, parse_date(VALUES.c.txt, (fmt,)), parse_date(VALUES.c.num, (fmt,))
            ).order_by(VALUES.c.id)
            for txt, num, from_text, from_number in conn.execute(stmt):
                assert from_text == _expected(fmt, txt), (fmt, txt)
                assert from_number == _expected(fmt, num), (fmt, num)


def test_sqlite_reads_each_format_as_python_does() -> None:
    with create_engine("sqlite://").begin() as conn:
        _check(conn)


def test_sqlite_integer_column_holding_text_reads_the_same() -> None:
    """SQLite keeps what it is given: text in an INTEGER column takes the text path."""
    engine = create_engine("sqlite://")
    METADATA.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(VALUES),
            [
                {"id": i, "txt": None, "num": t}
                for i, t in enumerate(["1690848000.5", " 86400 ", "junk", "-"])
            ],
        )
        got = [r[0] for r in conn.execute(select(parse_date(VALUES.c.num, (UNIX,))).order_by(VALUES.c.id))]
    assert got == ["2023-08-01", "1970-01-02", None, None]


async def test_postgres_reads_each_format_as_python_does(postgres_server: Any) -> None:
    url = postgres_server.create_database("date_sql", replace=True)
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_check)
    finally:
        await engine.dispose()


async def test_a_date_column_is_formatted_from_its_type(postgres_server: Any) -> None:
    """Not through its text, which depends on the session's date style."""
    url = postgres_server.create_database("date_sql_typed", replace=True)
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    table = Table("d", MetaData(), Column("id", Integer, primary_key=True), Column("day", Date))

    def check(conn: Any) -> list[Any]:
        table.metadata.create_all(conn)
        conn.exec_driver_sql("SET datestyle = 'SQL, DMY'")  # the text of a date is then 01/07/2023
        conn.execute(insert(table), [{"id": 1, "day": date(2023, 7, 1)}, {"id": 2, "day": None}])
        stmt = select(parse_date(table.c.day, ("YYYY-MM-DD",))).order_by(table.c.id)
        return [row[0] for row in conn.execute(stmt)]

    try:
        async with engine.begin() as conn:
            assert await conn.run_sync(check) == ["2023-07-01", None]
    finally:
        await engine.dispose()


async def test_postgres_before_16_checks_the_calendar_by_arithmetic(postgres_server: Any) -> None:
    """Servers without ``pg_input_is_valid`` get the same dates from arithmetic on the digits."""
    old = postgresql.dialect()
    old.server_version_info = (15, 0)
    url = postgres_server.create_database("date_sql_15", replace=True)
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))

    def check(conn: Any) -> None:
        METADATA.create_all(conn)
        conn.execute(insert(VALUES), [{"id": i, "txt": t, "num": None} for i, t in enumerate(TEXTS)])
        for fmt in ("YYYY-MM-DD", "DD/MM/YYYY", "YYYY/MM/DD"):
            expression = parse_date(VALUES.c.txt, (fmt,))
            sql = str(expression.compile(dialect=old, compile_kwargs={"literal_binds": True}))
            assert "pg_input_is_valid" not in sql
            rows = conn.exec_driver_sql(f"SELECT v.txt, {sql} FROM v ORDER BY v.id").all()
            assert [r[1] for r in rows] == [_expected(fmt, r[0]) for r in rows], fmt

    try:
        async with engine.begin() as conn:
            await conn.run_sync(check)
    finally:
        await engine.dispose()
