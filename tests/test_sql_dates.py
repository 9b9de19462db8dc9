"""The SQL date layer (:mod:`adapters.sqldates`) against a plain-Python reading of each format.

Every expression is evaluated by SQLite on real column values; the expected date comes from a
reference written here from the formats' documentation (``datetime`` for the calendar, the
spreadsheet epoch 1899-12-30, Unix seconds), never from the code under test. The corpus is
generated from a fixed seed, so the run is the same every time and one statement per format
checks a few thousand values (fast enough to run per mutant of ``make mutate``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, create_engine, insert, select

from adapters import sqldates
from adapters.sqldates import (
    Pattern,
    canonical_format,
    day_key,
    format_expression,
    is_format,
    parse_date,
    parse_pattern,
)

METADATA = MetaData()
VALUES = Table("dates", METADATA, Column("id", Integer, primary_key=True), Column("v", String))

#: Month names of the documentation (Indonesian and English, full and abbreviated).
MONTH_NAMES = {
    1: ("januari", "january", "jan"),
    2: ("februari", "pebruari", "february", "feb", "peb"),
    3: ("maret", "march", "mar"),
    4: ("april", "apr"),
    5: ("mei", "may"),
    6: ("juni", "june", "jun"),
    7: ("juli", "july", "jul"),
    8: ("agustus", "august", "aug", "agu", "agt", "ags"),
    9: ("september", "sept", "sep"),
    10: ("oktober", "october", "okt", "oct"),
    11: ("november", "nopember", "nov", "nop"),
    12: ("desember", "december", "des", "dec"),
}


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    engine = create_engine("sqlite://")
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


def evaluate(engine, fmt: str | tuple[str, ...], values: Iterable[str | None]) -> list[str | None]:  # type: ignore[no-untyped-def]
    """The ISO text SQLite computes for each value with ``fmt`` (one statement)."""
    values = list(values)
    expression = format_expression(VALUES.c.v, fmt) if isinstance(fmt, str) else parse_date(VALUES.c.v, fmt)
    with engine.begin() as conn:
        conn.execute(VALUES.delete())
        if values:
            conn.execute(insert(VALUES), [{"id": i, "v": v} for i, v in enumerate(values)])
        rows = conn.execute(select(VALUES.c.id, expression).order_by(VALUES.c.id)).all()
    return [row[1] for row in rows]


# --- the reference ------------------------------------------------------------------------------


def real_date(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat() if year >= 1 else None
    except ValueError:
        return None


def ref_iso(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not any(re.fullmatch(r"\d{4}-\d{2}-\d{2}( .*)?", t, re.S) for t in (text, text.replace("T", " "))):
        return None
    return real_date(int(text[:4]), int(text[5:7]), int(text[8:10]))


def ref_numeric(value: str | None, order: str, sep: str) -> str | None:
    """A pattern such as DMY with separator ``/``: day and month one or two digits, year four."""
    if value is None:
        return None
    widths = {"D": r"(\d{1,2})", "M": r"(\d{1,2})", "Y": r"(\d{4})"}
    match = re.fullmatch(re.escape(sep).join(widths[p] for p in order) + r"( .*)?", value.strip(), re.S)
    if match is None:
        return None
    parts = dict(zip(order, (int(g) for g in match.groups()[:3]), strict=True))
    return real_date(parts["Y"], parts["M"], parts["D"])


def ref_serial(value: str | None) -> str | None:
    if value is None:
        return None
    match = re.fullmatch(r"(\d+)(\.\d*)?", value.strip())
    if match is None or not 2 <= len(match.group(1)) <= 7:
        return None
    days = int(match.group(1))
    if not 61 <= days <= 2958465:
        return None
    return (date(1899, 12, 30) + timedelta(days=days)).isoformat()


def ref_unix(value: str | None) -> str | None:
    if value is None:
        return None
    match = re.fullmatch(r"(-?)(\d+)(\.\d*)?", value.strip())
    if match is None or not 1 <= len(match.group(2)) <= 11:
        return None
    seconds = int(match.group(2)) * (-1 if match.group(1) else 1)
    moment = datetime(1970, 1, 1) + timedelta(seconds=seconds)
    return moment.date().isoformat()


# --- the corpus ---------------------------------------------------------------------------------


def random_dates(rng: random.Random, n: int) -> list[tuple[int, int, int]]:
    """Year, month, day triples: real dates, month ends, leap days and impossible days."""
    out = []
    for _ in range(n):
        year = rng.choice(
            [1, 999, 1900, 1980, 1999, 2000, 2023, 2024, 2100, 2400, 9999, rng.randint(1000, 2999)]
        )
        month = rng.choice([1, 2, 2, 4, 6, 9, 11, 12, 0, 13, rng.randint(1, 12)])
        day = rng.choice([1, 28, 29, 29, 30, 31, 0, 32, rng.randint(1, 31)])
        out.append((year, month, day))
    return out


def junk(rng: random.Random, n: int) -> list[str]:
    alphabet = "0123456789/-. T:aJ"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(n)]


RNG_SEED = 20261206


def iso_corpus() -> list[str | None]:
    rng = random.Random(RNG_SEED)
    values: list[str | None] = [
        None,
        "",
        "  ",
        "0000-01-01",
        "2023-07-01",
        " 2023-07-01 ",
        "2023-07-01 08:00",
    ]
    values += ["2023-07-01T08:00:00", "2023-07-01x", "2023-7-01", "20230701", "2023/07/01", "2023-07-01T"]
    values += [
        "2024-02-29",
        "2023-02-29",
        "1900-02-29",
        "2000-02-29",
        "2023-04-31",
        "2023-13-01",
        "2023-00-10",
    ]
    for year, month, day in random_dates(rng, 600):
        values.append(
            f"{year:04d}-{month:02d}-{day:02d}" + rng.choice(["", "", " 10:00", "T10:00:00", "x", "0"])
        )
    return values + junk(rng, 300)


def numeric_corpus(order: str, sep: str) -> list[str | None]:
    rng = random.Random(RNG_SEED + ord(sep))
    values: list[str | None] = [None, "", "1/1/2023", "01.01.2023", "2023-07-01", "7 Juli 1980"]
    for year, month, day in random_dates(rng, 1200):
        parts = {
            "D": rng.choice([f"{day}", f"{day:02d}", f"{day:03d}"]),
            "M": rng.choice([f"{month}", f"{month:02d}"]),
            "Y": rng.choice([f"{year:04d}", f"{year:04d}", f"{year % 100:02d}"]),
        }
        text = rng.choice([sep, sep, "/", "-"]).join(parts[p] for p in order)
        values.append(rng.choice(["", "", " ", "  "]) + text + rng.choice(["", "", " 00:00:00", ":00", "x"]))
    return values + junk(rng, 300)


# --- tests --------------------------------------------------------------------------------------


def test_iso_dates_agree_with_the_calendar(engine) -> None:  # type: ignore[no-untyped-def]
    values = iso_corpus()
    assert evaluate(engine, "YYYY-MM-DD", values) == [ref_iso(v) for v in values]


@pytest.mark.parametrize(
    ("fmt", "order", "sep"),
    [
        ("DD/MM/YYYY", "DMY", "/"),
        ("DD-MM-YYYY", "DMY", "-"),
        ("DD.MM.YYYY", "DMY", "."),
        ("YYYY/MM/DD", "YMD", "/"),
        ("MM/DD/YYYY", "MDY", "/"),
        ("D/M/YYYY", "DMY", "/"),
        ("YYYY MM DD", "YMD", " "),
    ],
)
def test_numeric_patterns_agree_with_the_calendar(engine, fmt: str, order: str, sep: str) -> None:  # type: ignore[no-untyped-def]
    values = numeric_corpus(order, sep)
    got = evaluate(engine, fmt, values)
    expected = [ref_numeric(v, order, sep) for v in values]
    assert got == expected
    assert sum(1 for e in expected if e) > 50  # the corpus does reach real dates


def test_numeric_pattern_examples(engine) -> None:  # type: ignore[no-untyped-def]
    values = [
        "7/10/2023",
        "07/10/2023",
        "7/1/2023",
        "17/1/2023",
        "31/12/2023 00:00:00",
        "29/02/2024",
        "29/02/2023",
    ]
    assert evaluate(engine, "DD/MM/YYYY", values) == [
        "2023-10-07",
        "2023-10-07",
        "2023-01-07",
        "2023-01-17",
        "2023-12-31",
        "2024-02-29",
        None,
    ]
    assert evaluate(engine, "MM/DD/YYYY", ["7/10/2023", "12/31/2023", "31/12/2023"]) == [
        "2023-07-10",
        "2023-12-31",
        None,
    ]


def test_spreadsheet_serial_days(engine) -> None:  # type: ignore[no-untyped-def]
    values = [
        "29775",  # the documentation's example: 1981-07-08
        "29775.0",
        "29775.75",
        "29775.",
        " 29775 ",
        "60",  # the 29 February 1900 that never was: refused
        "61",
        "2958465",
        "2958466",
        "9",
        "10",
        "12345678",
        "-29775",
        "29775.5x",
        "29775.x",
        "29775.x5",
        "2977 5",
        "1e5",
        ".5",
        "",
        None,
    ]
    expected = [ref_serial(v) for v in values]
    assert expected[:4] == ["1981-07-08"] * 4 and expected[6] == "1900-03-01" and expected[7] == "9999-12-31"
    assert evaluate(engine, "serial", values) == expected
    rng = random.Random(RNG_SEED)
    many = [str(rng.randint(0, 3_000_000)) + rng.choice(["", ".0", ".25", "x"]) for _ in range(500)]
    assert evaluate(engine, "serial", many) == [ref_serial(v) for v in many]


def test_unix_seconds(engine) -> None:  # type: ignore[no-untyped-def]
    values = [
        "0",
        "86399",
        "86400",
        "-1",
        "-86400",
        "-86401",
        "1688169600",
        "1688169600.9",
        "-315619200",  # 1960-01-01
        "99999999999",
        "999999999999",
        "-",
        "--5",
        "5-",
        "1688169600.x",
        "-86400.x5",
        "abc",
        "",
        " 86400 ",
        None,
    ]
    expected = [ref_unix(v) for v in values]
    assert expected[:9] == [
        "1970-01-01",
        "1970-01-01",
        "1970-01-02",
        "1969-12-31",
        "1969-12-31",
        "1969-12-30",
        "2023-07-01",
        "2023-07-01",
        "1960-01-01",
    ]
    assert evaluate(engine, "unix", values) == expected
    rng = random.Random(RNG_SEED)
    many = [rng.choice(["", "-"]) + str(rng.randint(0, 4_000_000_000)) for _ in range(300)]
    assert evaluate(engine, "unix", many) == [ref_unix(v) for v in many]


def test_month_names(engine) -> None:  # type: ignore[no-untyped-def]
    spaced = [
        "7 Juli 1980",
        "07 July 1980",
        "7  Juli 1980",
        "7   Juli 1980",
        "7 Agt. 1980",
        " 7 juli 1980 ",
        "29 Februari 2024",
        "29 Februari 2023",
        "31 April 2023",
        "7 Foo 1980",
        "123 Juli 1980",
        "7 Juli",
        "7Juli1980",
        "Juli 7 1980",
        "7 Juli 0000",
        "",
        None,
    ]
    assert evaluate(engine, "D MMMM YYYY", spaced) == [
        "1980-07-07",
        "1980-07-07",
        "1980-07-07",
        "1980-07-07",
        "1980-08-07",
        "1980-07-07",
        "2024-02-29",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ]
    dashed = [
        "07-Agt-1980",
        "7-agt-1980",
        "07-Jul-2023 00:00:00",
        "07-JUL-2023",
        "07-Jul-23",
        "07-Jul",
        "07/Jul/2023",
    ]
    assert evaluate(engine, "DD-MMM-YYYY", dashed) == [
        "1980-08-07",
        "1980-08-07",
        "2023-07-07",
        "2023-07-07",
        None,
        None,
        None,
    ]
    # Every name of every month, in both orders a pattern can give.
    names = [(m, n) for m, spellings in MONTH_NAMES.items() for n in spellings]
    assert evaluate(engine, "DD MMMM YYYY", [f"05 {n.title()} 2001" for _, n in names]) == [
        f"2001-{m:02d}-05" for m, _ in names
    ]
    assert evaluate(engine, "YYYY-MMM-DD", [f"2001-{n.upper()}-5" for _, n in names]) == [
        f"2001-{m:02d}-05" for m, _ in names
    ]
    assert evaluate(engine, "MMM/DD/YYYY", ["Jul/31/2023", "Sep/31/2023", "Des/1/2023"]) == [
        "2023-07-31",
        None,
        "2023-12-01",
    ]


def test_a_missing_separator_leaves_an_empty_part(engine) -> None:  # type: ignore[no-untyped-def]
    """A month-name value with a part missing is no date, whichever part is missing."""
    assert evaluate(engine, "MMM-DD-YYYY", ["Jul-2023", "Jul-07-2023", "Jul2023"]) == [
        None,
        "2023-07-07",
        None,
    ]
    assert evaluate(engine, "MMMM D YYYY", ["Juli 1980", "Juli 7 1980", "Juli"]) == [None, "1980-07-07", None]
    assert evaluate(engine, "YYYY-MMM-DD", ["2023-Jul", "2023Jul07", "2023-Jul-07"]) == [
        None,
        None,
        "2023-07-07",
    ]


def test_first_format_that_parses_wins(engine) -> None:  # type: ignore[no-untyped-def]
    values = ["2023-07-01", "01/07/2023", "29775", "junk", None]
    assert evaluate(engine, ("YYYY-MM-DD", "DD/MM/YYYY", "serial"), values) == [
        "2023-07-01",
        "2023-07-01",
        "1981-07-08",
        None,
        None,
    ]
    # The order decides an ambiguous value.
    assert evaluate(engine, ("MM/DD/YYYY", "DD/MM/YYYY"), ["01/07/2023", "13/07/2023"]) == [
        "2023-01-07",
        "2023-07-13",
    ]
    assert evaluate(engine, ("serial",), ["29775"]) == ["1981-07-08"]


def test_patterns_are_read_and_checked() -> None:
    assert parse_pattern("DD/MM/YYYY") == Pattern(("D", "M", "Y"), "/", False)
    assert parse_pattern("YYYY.M.D") == Pattern(("Y", "M", "D"), ".", False)
    assert parse_pattern("D MMMM YYYY") == Pattern(("D", "M", "Y"), " ", True)
    assert parse_pattern("DD-MMM-YYYY") == Pattern(("D", "M", "Y"), "-", True)
    assert parse_pattern("MM/DD/YYYY") == Pattern(("M", "D", "Y"), "/", False)
    for bad in (
        "DD/MM/YY",
        "DD/MM-YYYY",
        "DD/DD/YYYY",
        "YYYY-MM",
        "DDD/MM/YYYY",
        "xDD/MM/YYYY",
        "DD/MM/YYYYx",
    ):
        assert parse_pattern(bad) is None, bad
    assert all(is_format(f) for f in ("YYYY-MM-DD", "serial", "unix", "DD.MM.YYYY", "YYYY-MM-DD HH:MM:SS"))
    assert not any(is_format(f) for f in ("DD/MM/YY", "iso", "", "SERIAL"))
    assert canonical_format("YYYY-MM-DD HH:MM:SS") == "YYYY-MM-DD"
    assert canonical_format("DD/MM/YYYY") == "DD/MM/YYYY"
    with pytest.raises(ValueError, match="unknown date format 'DD/MM/YY'"):
        format_expression(VALUES.c.v, "DD/MM/YY")
    assert all(is_format(f) for f in sqldates.CANDIDATES)


def test_the_old_spelling_reads_iso_with_a_time(engine) -> None:  # type: ignore[no-untyped-def]
    assert evaluate(engine, "YYYY-MM-DD HH:MM:SS", ["2023-07-01 08:00:00", "x"]) == ["2023-07-01", None]


def test_every_month_name_is_known() -> None:
    expected = {name: f"{m:02d}" for m, names in MONTH_NAMES.items() for name in names}
    assert expected == sqldates.MONTHS


def test_valid_iso_is_a_real_calendar_date(engine) -> None:  # type: ignore[no-untyped-def]
    values = ["2024-02-29", "2023-02-29", "2023-12-31", "2023-13-01", "0000-01-01", "2023-7-01", "", None]
    expression = sqldates.valid_iso(VALUES.c.v)
    assert evaluate_condition(engine, expression, values) == [1, 0, 1, 0, 0, 0, 0, 0]


def evaluate_condition(engine, expression, values: list[str | None]) -> list[int]:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(VALUES.delete())
        conn.execute(insert(VALUES), [{"id": i, "v": v} for i, v in enumerate(values)])
        rows = conn.execute(select(VALUES.c.id, expression).order_by(VALUES.c.id)).all()
    return [int(row[1]) for row in rows]


def test_unix_seconds_in_an_integer_column(engine) -> None:  # type: ignore[no-untyped-def]
    """An INTEGER column is read as the number it stores (SQLite may still hold text in it:
    that is read as text), with the same range as text: beyond it, no date."""
    numbers = Table("unix_numbers", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer))
    stored: list[Any] = [
        0,
        86400,
        -86401,
        1688169600,
        -315619200,
        99999999999,
        999999999999,
        None,
        "86400",
        "x",
    ]
    with engine.begin() as conn:
        numbers.create(conn)
        conn.execute(insert(numbers), [{"id": i, "n": v} for i, v in enumerate(stored)])
        rows = conn.execute(
            select(numbers.c.id, format_expression(numbers.c.n, "unix")).order_by(numbers.c.id)
        )
        got = [row[1] for row in rows]
        numbers.drop(conn)
    assert got == [ref_unix(None if v is None else str(v)) for v in stored]
    assert got[:5] == ["1970-01-01", "1970-01-02", "1969-12-30", "2023-07-01", "1960-01-01"]


def test_the_day_key_of_iso_text_is_its_date_part(engine) -> None:  # type: ignore[no-untyped-def]
    """Statistics key an ISO date-time's day by its first eleven characters: keyed or whole,
    every value reads as the same day. Other formats, several formats, or a column that is
    not text have no key."""
    key = day_key(VALUES.c.v, ("YYYY-MM-DD",))
    assert key is not None
    values = [
        "2023-07-01 10:00:00",
        " 2023-07-01T23:59",
        "2023-07-01",
        "2023-02-30 01:00",
        "2023-07-0112",
        "20230701",
        "2023-7-1",
        "",
        None,
    ]
    with engine.begin() as conn:
        conn.execute(VALUES.delete())
        conn.execute(insert(VALUES), [{"id": i, "v": v} for i, v in enumerate(values)])
        keys = [row[1] for row in conn.execute(select(VALUES.c.id, key).order_by(VALUES.c.id))]
    assert keys == [None if v is None else v.strip()[:11] for v in values]
    assert evaluate(engine, "YYYY-MM-DD", keys) == evaluate(engine, "YYYY-MM-DD", values)
    assert evaluate(engine, "YYYY-MM-DD", values)[:3] == ["2023-07-01"] * 3
    assert day_key(VALUES.c.v, ("DD/MM/YYYY",)) is None
    assert day_key(VALUES.c.v, ("YYYY-MM-DD", "DD/MM/YYYY")) is None
    assert day_key(VALUES.c.id, ("YYYY-MM-DD",)) is None
    assert day_key(Column("d", Date()), ("YYYY-MM-DD",)) is None
