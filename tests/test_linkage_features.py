"""The fast paths of feature building give what the field-by-field definitions give.

:func:`~hub.linkage.features.link_record` takes a record's name forms, NIK facts and birth
date from caches of its own and :func:`~hub.linkage.normalise.normalise_name` reads each
written word once per run; each test here computes the same fact the plain way — word by
word, from the whole NIK, through :class:`LinkRecord`'s own derivation — and compares.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.linkage import normalise
from hub.linkage.features import LinkRecord, forget_names, link_record
from hub.linkage.normalise import (
    _ADDRESS_WORDS,
    NameParts,
    _words,
    is_patronym_marker,
    modern_spelling,
    name_key,
    nik_facts,
    normalise_address,
    normalise_birth_date,
    normalise_name,
    normalise_nik,
    normalise_passport,
    normalise_phone,
    sound_key,
)
from hub.vocabulary.model import AgeGroup, PersonRecord, PersonRole, Sex

#: Letters, separators, titles and patronym markers agencies write, and some non-ASCII.
_NAME_TEXT = st.lists(
    st.sampled_from(
        ["Siti", "SITI", "Moh.", "Tjahjo", "binti", "BIN", "bnti", "H.", "Hj.", "S.Pd.", "Dr",
         "Noor", "Ahmad", "É", "İbrahim", "ß", ",", ";", "/", "(", ")", "-", ".", " ", "  ", "a",
         "'", "0", "Sulaiman", "Drs.H.Ahmad"]
    ),
    max_size=8,
).map("".join) | st.text(max_size=24)  # fmt: skip


def _reference_name(raw: str | None) -> NameParts:
    """The name's parts word by word: titles out, a marker starts the patronym, modern spelling."""
    if not raw:
        return NameParts((), ())
    words = _words(raw)
    if all(is_title for _, is_title in words):
        words = [(w, False) for w, _ in words]
    given_: list[str] = []
    patronym: list[str] = []
    target = given_
    for word, is_title in words:
        if is_title:
            continue
        if given_ and is_patronym_marker(word):
            target = patronym
            continue
        target.append(modern_spelling(word))
    return NameParts(tuple(given_), tuple(patronym))


@settings(max_examples=400, deadline=None)
@given(_NAME_TEXT)
def test_a_name_read_word_by_word_from_the_cache_of_written_words(raw: str) -> None:
    assert normalise_name.__wrapped__(raw) == _reference_name(raw)


def test_known_names_read_as_before() -> None:
    assert normalise_name.__wrapped__("Hj. Siti Rahmawati binti H. Ahmad") == NameParts(
        ("siti", "rahmawati"),
        ("ahmad",),  # titles go wherever they stand
    )
    assert normalise_name.__wrapped__("Drs. H.Moh. Tjahjo") == NameParts(("muhammad", "cahjo"), ())
    assert normalise_name.__wrapped__("H. Hj.") == NameParts(("h", "hj"), ())


_NIK = st.text(alphabet="0123456789", min_size=16, max_size=16)
_DAY = st.dates(min_value=date(1930, 1, 1), max_value=date(2024, 12, 31))


@st.composite
def _person(draw: st.DrawFn) -> PersonRecord:
    roles = draw(st.lists(st.sampled_from(list(PersonRole)), min_size=1, max_size=2, unique=True))
    return PersonRecord(
        source=draw(st.sampled_from(["polri", "lpsk"])),
        key=draw(st.text(alphabet="0123456789", min_size=1, max_size=4)),
        case_key=draw(st.none() | st.just("c1")),
        roles=tuple(roles),
        sex=draw(st.sampled_from(list(Sex))),
        age_group=draw(st.sampled_from(list(AgeGroup))),
        is_child=None,
        citizenship=None,
        domicile_region=draw(st.none() | st.sampled_from(["33.74", "32.73", "31.71"])),
        full_name=draw(st.none() | _NAME_TEXT),
        nik=draw(st.none() | _NIK | st.just("33.7401-5006950001")),
        birth_date=draw(st.none() | _DAY | st.just(date(1990, 1, 1))),
        passport_number=draw(st.none() | st.just("B 123 4567") | st.just("X1")),
        address=draw(st.none() | st.just("Jalan Melati No. 005, RT 08") | st.just("")),
        phone=draw(st.none() | st.just("+62 812-3456-7890") | st.just("0812")),
    )


@settings(max_examples=300, deadline=None)
@given(_person())
def test_link_record_equals_the_record_built_field_by_field(person: PersonRecord) -> None:
    """The cached NIK facts, birth date and name forms give the fields the plain definitions give."""
    name = _reference_name(person.full_name)
    nik = normalise_nik(person.nik)
    facts = nik_facts(nik) if nik else None
    sex = person.sex if person.sex is not Sex.UNKNOWN else (facts.sex if facts else None)
    from hub.linkage.features import AGE_RANGES

    plain = LinkRecord(
        ref=7,
        source=person.source,
        key=person.key,
        case_key=person.case_key,
        roles=frozenset(person.roles),
        name=name,
        name_key=name_key(name),
        nik=nik,
        passport=normalise_passport(person.passport_number),
        sex=sex,
        birth=normalise_birth_date(person.birth_date),
        nik_birth=facts.birth_date if facts else None,
        region=person.domicile_region,
        nik_region=facts.region if facts else None,
        age_range=AGE_RANGES.get(person.age_group),
        phone=normalise_phone(person.phone),
        address=normalise_address(person.address),
    )
    fast = link_record(7, person)
    for item in dataclasses.fields(LinkRecord):
        assert getattr(fast, item.name) == getattr(plain, item.name), item.name
    assert fast.sorted_tokens == tuple(sorted(name.tokens))
    assert fast.sound == " ".join(sorted(sound_key(t) for t in name.tokens))
    forget_names()  # the caches are emptied and filled again: same answers
    again = link_record(7, person)
    for item in dataclasses.fields(LinkRecord):
        assert getattr(again, item.name) == getattr(fast, item.name), item.name


def test_derived_births_and_regions() -> None:
    """Recorded and NIK dates, a year-only date (1 January), the regencies in order."""
    born, in_nik = date(1995, 6, 10), date(1995, 6, 11)
    base = {
        "ref": 0, "source": "polri", "key": "1", "case_key": None, "roles": frozenset(),
        "name": NameParts(("siti",), ()), "name_key": "st", "nik": None, "passport": None,
        "sex": None, "age_range": None,
    }  # fmt: skip
    both = LinkRecord(
        **base, birth=normalise_birth_date(born), nik_birth=in_nik, region="33.74", nik_region="33.74"
    )
    assert both.births == (born, in_nik) and both.recorded_births == (born,)
    assert both.birth_year == both.recorded_year == 1995 and both.regions == ("33.74", "33.74")
    same = LinkRecord(
        **base, birth=normalise_birth_date(born), nik_birth=born, region=None, nik_region="32.73"
    )
    assert same.births == (born,) and same.regions == ("32.73",)
    year_only = LinkRecord(
        **base,
        birth=normalise_birth_date(date(1990, 1, 1)),
        nik_birth=in_nik,
        region="31.71",
        nik_region=None,
    )
    assert year_only.births == (in_nik,) and year_only.recorded_births == ()
    assert year_only.birth_year == year_only.recorded_year == 1990 and year_only.regions == ("31.71",)
    nik_only = LinkRecord(**base, birth=None, nik_birth=in_nik, region=None, nik_region=None)
    assert nik_only.births == (in_nik,) and nik_only.birth_year == 1995 and nik_only.recorded_year is None
    assert nik_only.regions == () and nik_only.sorted_tokens == ("siti",) and nik_only.sound == "siti"
    nothing = LinkRecord(**base, birth=None, nik_birth=None, region=None, nik_region=None)
    assert nothing.births == () and nothing.birth_year is None


_ADDRESS_TEXT = st.lists(
    st.sampled_from(
        ["Jalan", "JL.", "jln", "Gang", "No.", "NOMOR", "005", "5", "0", "00", "RT", "008", "/", "RW",
         "Kel.", "KELURAHAN", "Melati", "É", "٣", ",", " ", "-", "Blok", "desa"]
    ),
    max_size=10,
).map(" ".join) | st.text(max_size=30)  # fmt: skip


def _reference_address(raw: str | None) -> str | None:
    """The address word by word: lower case without accents, numbers unpadded, abbreviations unified."""
    if not raw:
        return None
    folded = unicodedata.normalize("NFKD", raw)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    words = []
    for word in re.findall(r"[a-z]+|\d+", folded):
        if word[0].isdigit():
            words.append(word.lstrip("0") or "0")
        else:
            words.append(_ADDRESS_WORDS.get(word, word))
    return " ".join(words) or None


@settings(max_examples=400, deadline=None)
@given(st.lists(_ADDRESS_TEXT | st.none(), min_size=1, max_size=6), st.integers(1, 4))
def test_an_address_read_through_the_cache_of_address_words(addresses: list[str | None], kept: int) -> None:
    # A tiny cache, emptied again and again while the addresses are read: the same words.
    saved = normalise._ADDRESS_WORDS_KEPT
    normalise._ADDRESS_WORDS_KEPT = kept
    normalise._address_words.clear()
    try:
        for raw in addresses:
            assert normalise_address(raw) == _reference_address(raw)
        assert len(normalise._address_words) <= kept
    finally:
        normalise._ADDRESS_WORDS_KEPT = saved
