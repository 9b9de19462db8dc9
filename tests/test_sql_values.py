"""The SQL value layer (:mod:`adapters.values`) evaluated by SQLite, against the documented rules.

Expected values are written from the rules themselves — the Simfoni PPA age bands (0–5, 6–12,
13–17, 18–24, 25–44, 45–59, 60+), a child is under 18, completed years at the report date, the
yes/no spellings of the mapping reference, code lists with their ``"*"`` default — or computed
by a plain-Python reading of them (completed years by calendar comparison), never by the code
under test. Everything runs on an in-memory SQLite database in about a second.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.sql.expression import ColumnElement

from adapters import values as v
from adapters.sqlfuncs import VALUE_SEPARATOR, ByPosition
from hub.vocabulary.model import AgeGroup, CaseStage, ExploitationType, OrgType, PersonRole, ServiceType, Sex

SEP = VALUE_SEPARATOR
METADATA = MetaData()
ROWS = Table(
    "rows",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("a", String),
    Column("b", String),
    Column("n", Integer),
)


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    engine = create_engine("sqlite://")
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


def evaluate(engine, expression: ColumnElement[Any], rows: list[dict[str, Any]]) -> list[Any]:  # type: ignore[no-untyped-def]
    """The value of ``expression`` on each row (columns a, b: text; n: integer)."""
    with engine.begin() as conn:
        conn.execute(ROWS.delete())
        conn.execute(
            insert(ROWS), [{"id": i, "a": None, "b": None, "n": None, **r} for i, r in enumerate(rows)]
        )
        return [row[1] for row in conn.execute(select(ROWS.c.id, expression).order_by(ROWS.c.id)).all()]


def of_a(engine, expression: ColumnElement[Any], texts: list[Any]) -> list[Any]:  # type: ignore[no-untyped-def]
    return evaluate(engine, expression, [{"a": t} for t in texts])


# --- yes/no, numbers, ages ------------------------------------------------------------------------


def test_yes_and_no_spellings(engine) -> None:  # type: ignore[no-untyped-def]
    texts = [
        "Ya",
        " tidak ",
        "Y",
        "N",
        "1",
        "0",
        "benar",
        "BUKAN",
        "tdk",
        "yes",
        "No",
        "true",
        "F",
        "t",
        "maybe",
        "",
        None,
    ]
    assert of_a(engine, v.boolean_value(ROWS.c.a), texts) == [
        1,
        0,
        1,
        0,
        1,
        0,
        1,
        0,
        0,
        1,
        0,
        1,
        0,
        0,
        None,
        None,
        None,
    ]


def reference_age(text: str | None) -> int | None:
    """An age from text: 1-3 leading digits, then nothing, '.0', a year word or a month word."""
    if text is None:
        return None
    text = text.strip().lower()
    digits = len(text) - len(text.lstrip("0123456789"))
    if not 1 <= digits <= 3:
        return None
    number, unit = int(text[:digits]), text[digits:].strip()
    years = {"tahun", "thn", "th", "thun", "years", "year", "yrs", "yr", "y", "", ".0"}
    months = {"bulan", "bln", "bl", "months", "month", "mo"}
    if unit in years:
        age = number
    elif unit in months:
        age = number // 12
    else:
        return None
    return age if 0 <= age <= 150 else None


def test_ages_written_as_text(engine) -> None:  # type: ignore[no-untyped-def]
    texts = [
        "34", "34.0", "34 th", "34tahun", " 34 TAHUN ", "8 bln", "11 bulan", "12 bulan", "18 bln",
        "24 months", "0", "150", "151", "999", "1234", "-3", "3.5", "34 th.", "th 34", "34 jam", "7y",
        "7 yr", "7 yrs", "7 year", "7 years", "7 thn", "7 thun", "7 bl", "30 mo", "30 month",
        "", None, "abc", "007",
    ]  # fmt: skip
    expected = [reference_age(t) for t in texts]
    assert expected[:10] == [34, 34, 34, 34, 34, 0, 0, 1, 1, 2]
    assert of_a(engine, v.age_value(ROWS.c.a), texts) == expected


def test_ages_in_an_integer_column_are_range_checked(engine) -> None:  # type: ignore[no-untyped-def]
    rows = [{"n": n} for n in (-1, 0, 17, 150, 151, None)]
    assert evaluate(engine, v.age_value(ROWS.c.n), rows) == [None, 0, 17, 150, None, None]


def test_whole_numbers(engine) -> None:  # type: ignore[no-untyped-def]
    texts = ["0", "0012", "1500000", " 42 ", "1.5", "-3", "1e3", "", None, "9" * 18, "9" * 19]
    assert of_a(engine, v.integer_value(ROWS.c.a), texts) == [
        0, 12, 1_500_000, 42, None, None, None, None, None, 10**18 - 1, None,
    ]  # fmt: skip
    assert evaluate(engine, v.integer_value(ROWS.c.n), [{"n": 7}, {"n": None}]) == [7, None]


def completed_years(born: date, at: date) -> int:
    return at.year - born.year - ((at.month, at.day) < (born.month, born.day))


BIRTHDAY_CASES = [
    ("2005-07-01", "2023-06-30"),  # the day before the 18th birthday
    ("2005-07-01", "2023-07-01"),  # the 18th birthday
    ("2005-07-01", "2023-07-02"),
    ("2004-02-29", "2022-02-28"),  # a leap-day birthday in a common year
    ("2004-02-29", "2022-03-01"),
    ("2004-02-29", "2024-02-29"),
    ("2010-12-31", "2023-01-01"),
    ("2011-01-01", "2023-12-31"),
    ("1963-05-05", "2023-05-04"),  # 59
    ("1963-05-05", "2023-05-05"),  # 60
    ("2023-07-01", "2023-07-01"),  # 0
    ("2023-07-02", "2023-07-01"),  # born after the report: negative
    ("2025-01-01", "2023-07-01"),
    ("1900-01-01", "2023-07-01"),
]


def test_completed_years_at_the_report(engine) -> None:  # type: ignore[no-untyped-def]
    years = v.years_value(ROWS.c.a, ROWS.c.b, None)
    assert years is not None
    rows = [{"a": born, "b": at} for born, at in BIRTHDAY_CASES]
    expected = [completed_years(date.fromisoformat(b), date.fromisoformat(a)) for b, a in BIRTHDAY_CASES]
    assert expected[:3] == [17, 18, 18]
    assert evaluate(engine, years, rows) == expected


def test_recorded_age_stands_in_for_a_missing_date(engine) -> None:  # type: ignore[no-untyped-def]
    both = v.years_value(ROWS.c.a, ROWS.c.b, ROWS.c.n)
    assert both is not None
    rows = [
        {"a": "2005-07-01", "b": "2023-07-01", "n": 40},  # the dates win
        {"a": None, "b": "2023-07-01", "n": 40},
        {"a": "2005-07-01", "b": None, "n": 40},
        {"a": None, "b": None, "n": None},
    ]
    assert evaluate(engine, both, rows) == [18, 40, 40, None]
    only_age = v.years_value(None, ROWS.c.b, ROWS.c.n)
    assert only_age is not None
    assert evaluate(engine, only_age, [{"n": 9}]) == [9]
    assert v.years_value(None, None, None) is None
    assert v.years_value(ROWS.c.a, None, None) is None


BANDS = [(0, 5, "AGE_0_5"), (6, 12, "AGE_6_12"), (13, 17, "AGE_13_17"), (18, 24, "AGE_18_24")]
BANDS += [(25, 44, "AGE_25_44"), (45, 59, "AGE_45_59"), (60, 150, "AGE_60_PLUS")]


def band_of(years: int | None) -> str:
    return next((name for lo, hi, name in BANDS if years is not None and lo <= years <= hi), "UNKNOWN")


def test_age_bands_at_every_edge(engine) -> None:  # type: ignore[no-untyped-def]
    ages = [None, -1, 0, 5, 6, 12, 13, 17, 18, 24, 25, 44, 45, 59, 60, 100, 150, 151]
    got = evaluate(engine, v.age_group_value(ROWS.c.n), [{"n": a} for a in ages])
    assert got == [band_of(a) for a in ages]
    assert got[7:9] == ["AGE_13_17", "AGE_18_24"]
    assert got[-1] == "UNKNOWN"  # above MAX_AGE: no real age
    assert v.age_bands() == [
        (0, 5, AgeGroup.AGE_0_5),
        (6, 12, AgeGroup.AGE_6_12),
        (13, 17, AgeGroup.AGE_13_17),
        (18, 24, AgeGroup.AGE_18_24),
        (25, 44, AgeGroup.AGE_25_44),
        (45, 59, AgeGroup.AGE_45_59),
        (60, None, AgeGroup.AGE_60_PLUS),
    ]


async def test_age_bands_of_every_year_on_postgres(postgres_server: Any) -> None:
    """PostgreSQL reads the band from an array by position (not the CASE SQLite runs): the
    same band for every whole year, below, above and NULL, in an integer and a bigint."""
    url = postgres_server.create_database("age_bands", replace=True)
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    ages: list[int | None] = [None, -(2**31), -151, *range(-3, 155), 2**31 - 1]
    try:
        async with engine.begin() as conn:
            for kind in ("integer", "bigint"):
                years = literal_column(f"CAST(x AS {kind})")
                band = v.age_group_value(years)
                table = select(func.unnest(literal(ages, ARRAY(BigInteger))).label("x")).subquery("t")
                got = (await conn.execute(select(table.c.x, band).select_from(table))).all()
                assert {x: b for x, b in got} == {a: band_of(a) for a in ages}, kind
            names = ['a "b"', "c'd", "e\\f", "{g,h}"]
            tricky = ByPosition(literal_column("x"), names, "?")
            table = select(func.unnest(literal([0, 1, 2, 3, 4], ARRAY(Integer))).label("x")).subquery("t")
            got = (await conn.execute(select(tricky).select_from(table))).scalars().all()
            assert got == [*names, "?"]
    finally:
        await engine.dispose()


def test_band_and_child_flag_from_birth_dates(engine) -> None:  # type: ignore[no-untyped-def]
    years = v.years_value(ROWS.c.a, ROWS.c.b, None)
    assert years is not None
    rows = [{"a": born, "b": at} for born, at in BIRTHDAY_CASES]
    ages = [completed_years(date.fromisoformat(b), date.fromisoformat(a)) for b, a in BIRTHDAY_CASES]
    assert evaluate(engine, v.age_group_value(years), rows) == [band_of(a) for a in ages]
    child = [None if a < 0 or a > 150 else int(a < 18) for a in ages]
    assert evaluate(engine, v.child_value(years, None), rows) == child


def test_child_is_under_eighteen(engine) -> None:  # type: ignore[no-untyped-def]
    ages = [None, -20, -1, 0, 1, 17, 18, 19, 35, 36, 149, 150, 200]
    got = evaluate(engine, v.child_value(ROWS.c.n, None), [{"n": a} for a in ages])
    assert got == [None, None, None, 1, 1, 1, 0, 0, 0, 0, 0, 0, None]


def test_child_flag_decides_only_without_an_age(engine) -> None:  # type: ignore[no-untyped-def]
    rows = [{"n": 10, "b": "0"}, {"n": 30, "b": "1"}, {"n": None, "b": "1"}, {"n": None, "b": "0"}, {}]
    flag = ROWS.c.b
    assert evaluate(engine, v.child_value(ROWS.c.n, flag), rows) == [1, 0, "1", "0", None]
    assert evaluate(engine, v.child_value(None, flag), rows) == ["0", "1", "1", "0", None]
    assert evaluate(engine, v.child_value(None, None), rows[:1]) == [0]


# --- text and code lists --------------------------------------------------------------------------


def test_free_text_and_digit_cleaning(engine) -> None:  # type: ignore[no-untyped-def]
    texts = [
        " Siti ",
        "",
        "   ",
        None,
        "0812-3456 7890",
        "(021) 555.1234",
        "+62 812_9/9,1\t2",
        "3201x",
        "---",
    ]
    assert of_a(engine, v.clean_text(ROWS.c.a, None), texts) == [
        "Siti", None, None, None, "0812-3456 7890", "(021) 555.1234", "+62 812_9/9,1\t2", "3201x", "---",
    ]  # fmt: skip
    assert of_a(engine, v.clean_text(ROWS.c.a, "digits"), texts) == [
        None, None, None, None, "081234567890", "0215551234", "628129912", None, None,
    ]  # fmt: skip
    assert of_a(engine, v.text_of(ROWS.c.a), ["  x y  ", None]) == ["x y", None]


SEX_CODES = {"L": ("MALE",), "P": ("FEMALE",)}


def test_code_lists(engine) -> None:  # type: ignore[no-untyped-def]
    texts = ["L", " P ", "X", "l", "", None]
    assert of_a(engine, v.code_value(ROWS.c.a, SEX_CODES, Sex), texts) == [
        "MALE", "FEMALE", "UNKNOWN", "UNKNOWN", None, None,
    ]  # fmt: skip
    assert of_a(engine, v.code_value(ROWS.c.a, SEX_CODES, Sex, null_as="UNKNOWN"), texts) == [
        "MALE", "FEMALE", "UNKNOWN", "UNKNOWN", "UNKNOWN", "UNKNOWN",
    ]  # fmt: skip
    with_default = {**SEX_CODES, "*": ("FEMALE",)}
    assert of_a(engine, v.code_value(ROWS.c.a, with_default, Sex), texts) == [
        "MALE", "FEMALE", "FEMALE", "FEMALE", None, None,
    ]  # fmt: skip
    # A text field (no enum) has no fallback: an unlisted code is NULL.
    assert of_a(engine, v.code_value(ROWS.c.a, SEX_CODES, None), texts) == [
        "MALE",
        "FEMALE",
        None,
        None,
        None,
        None,
    ]
    # No list: the column holds national names.
    assert of_a(engine, v.code_value(ROWS.c.a, None, Sex), ["MALE", "FEMALE", "male", "UNKNOWN"]) == [
        "MALE", "FEMALE", "UNKNOWN", "UNKNOWN",
    ]  # fmt: skip
    assert of_a(engine, v.code_value(ROWS.c.a, None, None), ["x", None]) == [None, None]
    assert of_a(engine, v.code_value(ROWS.c.a, None, None, null_as="N"), ["x", ""]) == [None, "N"]
    # A list with only the "*" default, or an empty list: every present value takes the
    # default, else the vocabulary's fallback; empty cells stay NULL (or null_as).
    only_default = {"*": ("FEMALE",)}
    assert of_a(engine, v.code_value(ROWS.c.a, only_default, Sex), ["L", "x", "", None]) == [
        "FEMALE", "FEMALE", None, None,
    ]  # fmt: skip
    assert of_a(engine, v.code_value(ROWS.c.a, {}, Sex, null_as="N"), ["L", "", None]) == [
        "UNKNOWN",
        "N",
        "N",
    ]
    # An entry for the empty code never applies: an empty cell reads as empty (null_as).
    with_empty = {"": ("FEMALE",), **SEX_CODES}
    assert of_a(engine, v.code_value(ROWS.c.a, with_empty, Sex, null_as="N"), ["", "  ", None, "L"]) == [
        "N", "N", "N", "MALE",
    ]  # fmt: skip


def test_a_code_with_several_national_values(engine) -> None:  # type: ignore[no-untyped-def]
    table = {
        "ES": ("SEXUAL_EXPLOITATION", "FORCED_LABOUR"),
        "KP": ("FORCED_LABOUR",),
        "*": ("OTHER", "UNKNOWN"),
    }
    got = of_a(engine, v.code_value(ROWS.c.a, table, ExploitationType), ["ES", "KP", "??"])
    assert got == [f"FORCED_LABOUR{SEP}SEXUAL_EXPLOITATION", "FORCED_LABOUR", f"OTHER{SEP}UNKNOWN"]


def names(value: str | None) -> list[str] | None:
    return None if value is None else sorted(n for n in value.split(SEP) if n)


def test_cells_holding_several_codes(engine) -> None:  # type: ignore[no-untyped-def]
    table = {"ES": ("SEXUAL_EXPLOITATION",), "KP": ("FORCED_LABOUR",), "KPS": ("DOMESTIC_SERVITUDE",)}
    expression = v.split_code_value(ROWS.c.a, ",", table, ExploitationType)
    texts = ["ES", "ES, KP", "KP ,ES", " KPS ", "KPS,KP", "ES,,KP", "ES, XX", "XX", "E S", "", None]
    got = [names(x) for x in of_a(engine, expression, texts)]
    assert got == [
        ["SEXUAL_EXPLOITATION"],
        ["FORCED_LABOUR", "SEXUAL_EXPLOITATION"],
        ["FORCED_LABOUR", "SEXUAL_EXPLOITATION"],
        ["DOMESTIC_SERVITUDE"],
        ["DOMESTIC_SERVITUDE", "FORCED_LABOUR"],  # KPS does not also read as KP
        ["FORCED_LABOUR", "SEXUAL_EXPLOITATION"],
        ["SEXUAL_EXPLOITATION", "UNKNOWN"],  # an unlisted token adds the fallback
        ["UNKNOWN"],
        ["UNKNOWN"],
        None,
        None,
    ]
    with_null = v.split_code_value(
        ROWS.c.a, ";", {"A": ("FORCED_MARRIAGE",), "*": ("OTHER",)}, None, "UNKNOWN"
    )
    assert [names(x) for x in of_a(engine, with_null, ["A;B", "A", "", None, "B"])] == [
        ["FORCED_MARRIAGE", "OTHER"],
        ["FORCED_MARRIAGE"],
        ["UNKNOWN"],
        ["UNKNOWN"],
        ["OTHER"],
    ]
    no_list = v.split_code_value(ROWS.c.a, "|", None, Sex)
    assert [names(x) for x in of_a(engine, no_list, ["MALE|FEMALE", "MALE | x"])] == [
        ["FEMALE", "MALE"],
        ["MALE", "UNKNOWN"],
    ]
    nothing = v.split_code_value(ROWS.c.a, ",", {}, None)
    assert of_a(engine, nothing, ["a", ""]) == [None, None]


def test_tokens_and_names(engine) -> None:  # type: ignore[no-untyped-def]
    wrapped = v.wrapped_tokens(ROWS.c.a, ",")
    assert of_a(engine, wrapped, ["ES , KP", "ES,  KP", "A"]) == [",ES,,KP,", ",ES,,KP,", ",A,"]
    assert of_a(engine, v.token_condition(wrapped, ",", "KP"), ["ES,KP", "ES,KPS", "KP", "XKP"]) == [
        1,
        0,
        1,
        0,
    ]
    assert of_a(engine, v.leftover_tokens(wrapped, ",", ["ES", "KP"]), ["ES,KP", "ES,XX,KP", "KPS"]) == [
        "",
        "XX",
        "KPS",
    ]
    held = v.has_name(ROWS.c.a, "FORCED_LABOUR")
    texts = [f"FORCED_LABOUR{SEP}X", f"X{SEP}FORCED_LABOUR", "FORCED_LABOUR", "FORCED_LABOURS", f"X{SEP}Y"]
    assert of_a(engine, held, texts) == [1, 1, 1, 0, 0]


def test_python_side_readers() -> None:
    assert v.read_member(Sex)("MALE") is Sex.MALE and v.read_member(Sex)(None) is None
    read = v.read_many(ExploitationType)
    assert read(f"FORCED_LABOUR{SEP}CHILD_LABOUR{SEP}FORCED_LABOUR{SEP}") == (
        ExploitationType.CHILD_LABOUR,
        ExploitationType.FORCED_LABOUR,
    )
    assert read(None) == () and read("") == ()
    assert v.names_of(f"B{SEP}A{SEP}B{SEP}") == ("A", "B") and v.names_of(None) == ()
    assert (
        v.read_bool(1) is True
        and v.read_bool(0) is False
        and v.read_bool("0") is False
        and v.read_bool(None) is None
    )
    assert v.read_int("7") == 7 and v.read_int(None) is None
    assert v.date_reader("2023-07-01 08:00") == date(2023, 7, 1) and v.date_reader(None) is None
    assert v.fallback_name(Sex) == "UNKNOWN" and v.fallback_name(AgeGroup) == "UNKNOWN"
    assert v.fallback_name(ExploitationType) == "UNKNOWN"


def test_constant_conditions(engine) -> None:  # type: ignore[no-untyped-def]
    assert of_a(engine, v.always(True), ["x"]) == [1]
    assert of_a(engine, v.always(False), ["x"]) == [0]
    assert of_a(engine, v.always("x"), ["x"]) == [1]
    assert of_a(engine, v.always(None), ["x"]) == [0]


def test_lookup_tables(engine) -> None:  # type: ignore[no-untyped-def]
    resolve = {"Jawa Tengah": "33", "jateng": "33", "Bali": "51", "??": None}.get
    lookup = v.Lookup(ROWS.c.a, resolve)
    lookup.learn(["Jawa Tengah", "jateng", "Bali", "??", None, "Mars"])
    assert lookup.table == {"Jawa Tengah": "33", "jateng": "33", "Bali": "51", "??": None, "Mars": None}
    assert lookup.read("jateng") == "33" and lookup.read(None) is None and lookup.read("unseen") is None
    assert lookup.keys_where(lambda code: code == "33") == ["Jawa Tengah", "jateng"]
    assert lookup.unreadable() == ["??", "Mars"]
    texts = ["Jawa Tengah", "Bali", "jateng", "??", None]
    assert of_a(engine, lookup.condition(lambda code: code.startswith("3")), texts) == [1, 0, 1, 0, None]
    assert of_a(engine, lookup.condition(lambda code: code == "99"), texts) == [0, 0, 0, 0, 0]


def test_field_values_select_and_read() -> None:
    plain = v.FieldValue(sql=ROWS.c.a, read=str.upper)
    assert plain.selected == [ROWS.c.a] and plain.value_of(["x"]) == "X"
    hidden = v.FieldValue(sql=ROWS.c.a, read=str.upper, selectable=False)
    assert hidden.selected == [] and hidden.value_of(["x"]) is None
    constant = v.FieldValue(sql=None, read=str, constant="33", is_constant=True)
    assert constant.selected == [] and constant.value_of([]) == "33"
    lookup = v.Lookup(ROWS.c.b, {"Bali": "51"}.get)
    lookup.learn(["Bali"])
    looked = v.FieldValue(sql=None, read=str, lookup=lookup)
    assert (
        looked.selected == [ROWS.c.b] and looked.value_of(["Bali"]) == "51" and looked.value_of(["x"]) is None
    )
    assert v.FieldValue(sql=literal(1), read=int).value_of([5]) == 5


def test_fallback_name_unknown_else_other_else_none() -> None:
    """A value no code list knows reads as UNKNOWN where the enum has it, else OTHER, else none."""
    assert v.fallback_name(ExploitationType) == "UNKNOWN"  # has both: UNKNOWN first
    assert v.fallback_name(OrgType) == "OTHER"
    assert v.fallback_name(ServiceType) == "OTHER"
    assert v.fallback_name(PersonRole) is None
    assert v.fallback_name(CaseStage) is None


def test_multi_valued_names_split_on_the_value_separator() -> None:
    """A canonical multi-value is names joined by the unit separator (never by spaces)."""
    joined = f"SEXUAL_EXPLOITATION{SEP}FORCED_LABOUR{SEP}{SEP}FORCED_LABOUR"
    assert v.names_of(joined) == ("FORCED_LABOUR", "SEXUAL_EXPLOITATION")
    assert v.read_many(ExploitationType)(joined) == (
        ExploitationType.FORCED_LABOUR,
        ExploitationType.SEXUAL_EXPLOITATION,
    )
    assert v.names_of(None) == () and v.read_many(ExploitationType)(None) == ()
