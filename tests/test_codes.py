"""hub.vocabulary.countries against ISO 3166-1 codes written out by hand (not computed by the module)."""

from __future__ import annotations

import doctest

import pytest

from hub.vocabulary import countries as codes
from hub.vocabulary.countries import (
    country_from_alpha2,
    country_from_alpha3,
    country_from_name,
    country_names,
    normalize_country_name,
)


@pytest.mark.parametrize(
    ("name", "alpha2"),
    [
        # the spellings the demo agencies store (docs/demo-agencies.md)
        ("Malaysia", "MY"),
        ("Arab Saudi", "SA"),
        ("Hongkong", "HK"),
        ("Kamboja", "KH"),
        ("Taiwan", "TW"),
        ("Myanmar", "MM"),
        ("Uni Emirat Arab", "AE"),
        ("Jepang", "JP"),
        ("Korea Selatan", "KR"),
        ("Singapura", "SG"),
        ("Filipina", "PH"),
        # English and other common spellings
        ("Saudi Arabia", "SA"),
        ("Hong Kong", "HK"),
        ("Cambodia", "KH"),
        ("United Arab Emirates", "AE"),
        ("Japan", "JP"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Singapore", "SG"),
        ("Philippines", "PH"),
        ("The Philippines", "PH"),
        ("Thailand", "TH"),
        ("Brunei Darussalam", "BN"),
        ("Brunei", "BN"),
        ("Tiongkok", "CN"),
        ("China", "CN"),
        ("Timor Leste", "TL"),
        ("Timor-Leste", "TL"),
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("Amerika Serikat", "US"),
        ("Belanda", "NL"),
        ("Turki", "TR"),
        ("Türkiye", "TR"),
        ("Indonesia", "ID"),
        # case and spacing
        ("ARAB SAUDI", "SA"),
        ("arab saudi", "SA"),
        ("  Hong  Kong ", "HK"),
        ("HONGKONG", "HK"),
        ("KAMBOJA", "KH"),
        ("uni emirat arab", "AE"),
    ],
)
def test_country_from_name(name: str, alpha2: str) -> None:
    assert country_from_name(name) == alpha2


@pytest.mark.parametrize("name", ["", "   ", None, "Atlantis", "Korea", "MY", "MYS", "Eropa"])
def test_country_from_name_unknown_or_ambiguous(name: str | None) -> None:
    assert country_from_name(name) is None


@pytest.mark.parametrize(
    ("alpha3", "alpha2"),
    [
        ("MYS", "MY"),
        ("SAU", "SA"),
        ("HKG", "HK"),
        ("KHM", "KH"),
        ("TWN", "TW"),
        ("MMR", "MM"),
        ("ARE", "AE"),
        ("JPN", "JP"),
        ("KOR", "KR"),
        ("SGP", "SG"),
        ("PHL", "PH"),
        ("IDN", "ID"),
        ("TLS", "TL"),
        ("mys", "MY"),
        (" sau ", "SA"),
    ],
)
def test_country_from_alpha3(alpha3: str, alpha2: str) -> None:
    assert country_from_alpha3(alpha3) == alpha2


@pytest.mark.parametrize("code", ["", None, "XXX", "MY", "MALAYSIA"])
def test_country_from_alpha3_unknown(code: str | None) -> None:
    assert country_from_alpha3(code) is None


def test_country_from_alpha2() -> None:
    assert country_from_alpha2("MY") == "MY"
    assert country_from_alpha2("my") == "MY"
    assert country_from_alpha2(" sa ") == "SA"
    assert country_from_alpha2("XX") is None
    assert country_from_alpha2("MYS") is None
    assert country_from_alpha2("") is None
    assert country_from_alpha2(None) is None


def test_country_names_for_reverse_mapping() -> None:
    saudi = country_names("SA")
    for spelling in ("Arab Saudi", "ARAB SAUDI", "Saudi Arabia"):
        assert spelling in saudi
    hong_kong = country_names("HK")
    for spelling in ("Hongkong", "Hong Kong", "HONGKONG"):
        assert spelling in hong_kong
    assert "Kamboja" in country_names("KH")
    assert "Cambodia" in country_names("KH")
    assert "Korea Selatan" in country_names("KR")
    assert "Tiongkok" in country_names("CN")
    assert "Timor Leste" in country_names("TL")
    assert country_names("my") == country_names("MY")
    assert "Malaysia" in country_names("MY")
    assert country_names("XX") == []


def test_country_names_never_leak_into_another_country() -> None:
    for alpha2 in ("SA", "HK", "KH", "TW", "MM", "AE", "JP", "KR", "SG", "PH", "MY", "CN", "TL"):
        names = country_names(alpha2)
        assert names, alpha2
        assert len(names) == len(set(names)), alpha2
        for name in names:
            assert country_from_name(name) == alpha2, (alpha2, name)
        # Hong Kong must not be offered for China, nor Taiwan.
    assert "Hongkong" not in country_names("CN")
    assert "Taiwan" not in country_names("CN")


def test_country_names_returns_a_fresh_list() -> None:
    first = country_names("MY")
    first.append("Mars")
    assert "Mars" not in country_names("MY")


def test_normalize_country_name() -> None:
    assert normalize_country_name("Hong Kong") == "hongkong"
    assert normalize_country_name("Timor-Leste") == "timorleste"
    assert normalize_country_name("The Netherlands") == "netherlands"
    assert normalize_country_name("Côte d'Ivoire") == "cotedivoire"


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(codes, raise_on_error=True).attempted >= 1
