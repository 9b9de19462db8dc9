"""hub.vocabulary.reference against values read by hand from its reference_data/*.csv (Kemendagri codes).

Expected codes and names below were copied from the CSV files, not computed by the module.
"""

from __future__ import annotations

import doctest
from typing import Any

import pytest

from hub.vocabulary import reference
from hub.vocabulary.reference import Region, normalize_code, normalize_name, normalize_prefix, regions

JATENG = Region("33", "Jawa Tengah", "PROVINCE", "33")
CILACAP = Region("33.01", "Kabupaten Cilacap", "REGENCY", "33")
KAB_SEMARANG = Region("33.22", "Kabupaten Semarang", "REGENCY", "33")
SALATIGA = Region("33.73", "Kota Salatiga", "REGENCY", "33")
KOTA_SEMARANG = Region("33.74", "Kota Semarang", "REGENCY", "33")
INDRAMAYU = Region("32.12", "Kabupaten Indramayu", "REGENCY", "32")
KOTA_BANJAR = Region("32.79", "Kota Banjar", "REGENCY", "32")
KAB_BANJAR = Region("63.03", "Kabupaten Banjar", "REGENCY", "63")
JAKPUS = Region("31.71", "Kota Administrasi Jakarta Pusat", "REGENCY", "31")
SERIBU = Region("31.01", "Kabupaten Administrasi Kepulauan Seribu", "REGENCY", "31")


def test_counts_match_the_csv_files() -> None:
    index = regions()
    assert len(index.provinces) == 38
    assert len(index.regencies) == 514
    assert len(index) == 552


def test_regions_is_loaded_once() -> None:
    assert regions() is regions()


def test_packaged_data_keeps_its_odbl_attribution() -> None:
    readme = (reference.DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert "Open Database License" in readme
    assert "idn-area-data" in readme
    licence = (reference.DATA_DIR / "LICENSE-ODbL.md").read_text(encoding="utf-8")
    assert licence.startswith("# Open Database License (ODbL)")


def test_region_is_frozen() -> None:
    with pytest.raises(AttributeError):
        CILACAP.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("33", JATENG),
        (33, JATENG),
        ("33.73", SALATIGA),
        ("3373", SALATIGA),
        (3373, SALATIGA),
        ("3373011001", SALATIGA),  # a village code
        (3373011001, SALATIGA),
        ("337301", SALATIGA),  # a district code
        ("33.73.01", SALATIGA),
        ("33.73.01.1001", SALATIGA),
        (" 33.01 ", CILACAP),
        ("31.71", JAKPUS),
    ],
)
def test_by_code_accepts_every_form(code: str | int, expected: Region) -> None:
    assert regions().by_code(code) == expected


@pytest.mark.parametrize(
    "code", ["", "3", "337", "33737", "33.7", "33.730", "33.99", "99", "10", "ab", "3373.01", None]
)
def test_by_code_rejects_unknown_and_malformed(code: str | None) -> None:
    assert regions().by_code(code) is None


def test_normalize_code_is_pure_form_only() -> None:
    assert normalize_code("3373011001") == "33.73"
    assert normalize_code("33.99") == "33.99"  # well-formed, unknown: by_code decides
    assert normalize_code("33.7.3") is None
    assert normalize_code("\uff13\uff13") is None  # full-width digits are not Kemendagri codes


def test_province_of() -> None:
    index = regions()
    assert index.province_of("33.73") == JATENG
    assert index.province_of("3373011001") == JATENG
    assert index.province_of("33") == JATENG
    assert index.province_of("63.03") == Region("63", "Kalimantan Selatan", "PROVINCE", "63")
    assert index.province_of("99.01") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Kabupaten Cilacap", CILACAP),
        ("Kab. Cilacap", CILACAP),
        ("KAB. CILACAP", CILACAP),
        ("KAB CILACAP", CILACAP),
        ("kab.cilacap", CILACAP),
        ("Cilacap", CILACAP),
        ("  cilacap ", CILACAP),
        ("Kota Semarang", KOTA_SEMARANG),
        ("KOTA SEMARANG", KOTA_SEMARANG),
        ("Kabupaten Semarang", KAB_SEMARANG),
        ("KAB. SEMARANG", KAB_SEMARANG),
        ("KAB. INDRAMAYU", INDRAMAYU),
        ("Salatiga", SALATIGA),
        ("Kotamadya Salatiga", SALATIGA),
        ("Kodya Salatiga", SALATIGA),
        ("Kota Administrasi Jakarta Pusat", JAKPUS),
        ("Kota Adm. Jakarta Pusat", JAKPUS),
        ("KOTA JAKARTA PUSAT", JAKPUS),
        ("Jakarta Pusat", JAKPUS),
        ("Kab. Adm. Kep. Seribu", SERIBU),
        ("Kepulauan Seribu", SERIBU),
        # spacing and hyphenation variants
        ("Kabupaten Gunung Kidul", Region("34.03", "Kabupaten Gunungkidul", "REGENCY", "34")),
        ("KULONPROGO", Region("34.01", "Kabupaten Kulon Progo", "REGENCY", "34")),
        ("Kab. Tolitoli", Region("72.04", "Kabupaten Toli-Toli", "REGENCY", "72")),
        # "Kota Baru" is not a city: the kabupaten is written as one word
        ("Kota Baru", Region("63.02", "Kabupaten Kotabaru", "REGENCY", "63")),
        ("Kota Kotamobagu", Region("71.74", "Kota Kotamobagu", "REGENCY", "71")),
    ],
)
def test_find_regency_name_variants(name: str, expected: Region) -> None:
    assert regions().find_regency(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "Semarang",  # Kabupaten 33.22 and Kota 33.74
        "SEMARANG",
        "Banjar",  # Kota 32.79 (Jawa Barat) and Kabupaten 63.03 (Kalimantan Selatan)
        "Kota Cilacap",  # a stated kind must match: there is only a Kabupaten Cilacap
        "Kabupaten Salatiga",
        "Atlantis",
        "Kota",
        "",
        None,
    ],
)
def test_find_regency_unknown_or_ambiguous(name: str | None) -> None:
    assert regions().find_regency(name) is None


def test_province_narrows_ambiguous_names() -> None:
    index = regions()
    assert index.find_regency("Banjar", province_name="Kalimantan Selatan") == KAB_BANJAR
    assert index.find_regency("BANJAR", province_name="JAWA BARAT") == KOTA_BANJAR
    assert index.find_regency("Kota Banjar", province_name="Kalimantan Selatan") == KOTA_BANJAR
    # Both Semarangs are in Central Java: still ambiguous.
    assert index.find_regency("Semarang", province_name="Jawa Tengah") is None
    # An unknown province does not narrow; an unambiguous name does not need it.
    assert index.find_regency("Banjar", province_name="Atlantis") is None
    assert index.find_regency("Kota Semarang", province_name="Jawa Tengah") == KOTA_SEMARANG
    assert index.find_regency("Kabupaten Cilacap", province_name=None) == CILACAP


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Jawa Tengah", "33"),
        ("JAWA TENGAH", "33"),
        ("Provinsi Jawa Tengah", "33"),
        ("Prov. Jawa Tengah", "33"),
        ("Daerah Khusus Ibukota Jakarta", "31"),
        ("DKI Jakarta", "31"),
        ("DKI JAKARTA", "31"),
        ("D.K.I. Jakarta", "31"),
        ("Jakarta", "31"),
        ("Daerah Istimewa Yogyakarta", "34"),
        ("DI Yogyakarta", "34"),
        ("D.I. Yogyakarta", "34"),
        ("DIY", "34"),
        ("Yogyakarta", "34"),
        ("YOGYAKARTA", "34"),
        ("Kepulauan Bangka Belitung", "19"),
        ("Kep. Bangka Belitung", "19"),
        ("Nusa Tenggara Timur", "53"),
        ("NTT", "53"),
        ("Papua Barat Daya", "96"),
        ("Aceh", "11"),
    ],
)
def test_find_province(name: str, code: str) -> None:
    region = regions().find_province(name)
    assert region is not None
    assert region.code == code
    assert region.level == "PROVINCE"


@pytest.mark.parametrize("name", ["Jawa", "Papua Timur", "Semarang", "", None])
def test_find_province_unknown(name: str | None) -> None:
    assert regions().find_province(name) is None


def test_regencies_in_prefix() -> None:
    index = regions()
    central_java = index.regencies_in("33")
    assert len(central_java) == 35  # 33.01-33.29 and 33.71-33.76
    assert CILACAP in central_java
    assert all(r.province_code == "33" for r in central_java)
    assert index.regencies_in("33.73") == (SALATIGA,)
    assert index.regencies_in("3373") == (SALATIGA,)
    assert [r.code for r in index.regencies_in("33.7")] == [
        "33.71",
        "33.72",
        "33.73",
        "33.74",
        "33.75",
        "33.76",
    ]
    yogya = [r.code for r in index.regencies_in("34")]
    assert yogya == ["34.01", "34.02", "34.03", "34.04", "34.71"]
    jakarta = [r.code for r in index.regencies_in("31")]
    assert jakarta == ["31.01", "31.71", "31.72", "31.73", "31.74", "31.75"]
    # "3" is a string prefix: provinces 31-36 (Jakarta, the Javas, Yogyakarta, Banten)
    java = {r.province_code for r in index.regencies_in("3")}
    assert java == {"31", "32", "33", "34", "35", "36"}
    assert index.regencies_in("") == ()
    assert index.regencies_in("x") == ()
    assert index.regencies_in("99") == ()


def test_normalize_prefix() -> None:
    assert normalize_prefix("33") == "33"
    assert normalize_prefix("3") == "3"
    assert normalize_prefix("3373") == "33.73"
    assert normalize_prefix("337") == "33.7"
    assert normalize_prefix("33.") == "33"
    assert normalize_prefix("33.73.01") == "33.73"
    assert normalize_prefix(" 3373011001 ") == "33.73"
    assert normalize_prefix("") is None
    assert normalize_prefix("3a") is None
    assert normalize_prefix("333.1") is None


def test_names_for_regency_prefix() -> None:
    index = regions()
    assert index.names_for_prefix("33.74") == ("Kota Semarang", "KOTA SEMARANG")
    cilacap = index.names_for_prefix("33.01")
    for spelling in (
        "Kabupaten Cilacap",
        "KABUPATEN CILACAP",
        "Kab. Cilacap",
        "KAB. CILACAP",
        "KAB CILACAP",
        "Cilacap",
        "CILACAP",
    ):
        assert spelling in cilacap
    assert "Kota Cilacap" not in cilacap
    jakpus = index.names_for_prefix("31.71")
    assert {"Kota Administrasi Jakarta Pusat", "Kota Adm. Jakarta Pusat", "Jakarta Pusat"} <= set(jakpus)
    assert "KOTA JAKARTA PUSAT" in jakpus


def test_bare_names_only_when_unambiguous() -> None:
    index = regions()
    # "Semarang" alone names Kabupaten Semarang (33.22) and Kota Semarang (33.74): find_regency
    # cannot read it, so no filter offers it, not even for the whole province.
    assert "Semarang" not in index.names_for_prefix("33.74")
    central_java = index.names_for_prefix("33")
    assert "Semarang" not in central_java
    assert "SEMARANG" not in central_java
    assert "Kabupaten Semarang" in central_java
    assert "KOTA SEMARANG" in central_java
    assert "Salatiga" in central_java
    assert "KAB. CILACAP" in central_java
    assert "KAB. INDRAMAYU" not in central_java
    # "Banjar" names a city in 32 and a regency in 63.
    assert "Banjar" not in index.names_for_prefix("32")
    assert "Banjar" not in index.names_for_prefix("63")
    assert "KOTA BANJAR" in index.names_for_prefix("32")


def test_every_regency_name_maps_back_to_a_region_under_its_prefix() -> None:
    index = regions()
    for prefix in ("33", "31", "32.79", "63", "3"):
        inside = {r.code for r in index.regencies_in(prefix)}
        for spelling in index.names_for_prefix(prefix):
            region = index.find_regency(spelling)
            assert region is not None, spelling
            assert region.code in inside, (prefix, spelling)


def test_names_for_province_prefix() -> None:
    index = regions()
    jateng = index.names_for_prefix("33", level="PROVINCE")
    assert jateng[:2] == ("Jawa Tengah", "JAWA TENGAH")
    jakarta = index.names_for_prefix("31", level="PROVINCE")
    assert {"Daerah Khusus Ibukota Jakarta", "DKI Jakarta", "DKI JAKARTA"} <= set(jakarta)
    yogya = index.names_for_prefix("34", level="PROVINCE")
    assert {"Daerah Istimewa Yogyakarta", "DI Yogyakarta"} <= set(yogya)
    # A regency prefix covers no whole province.
    assert index.names_for_prefix("33.74", level="PROVINCE") == ()
    # "3" covers six provinces.
    three = index.names_for_prefix("3", level="PROVINCE")
    assert {"Jawa Barat", "Jawa Tengah", "Jawa Timur", "Banten"} <= set(three)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("KAB. KEP. SERIBU", "kabupaten kepulauan seribu"),
        ("Kota  Adm.  Jakarta-Pusat ", "kota administrasi jakarta pusat"),
        ("Kabupatén Cilacap", "kabupaten cilacap"),
        ("PROP. JAWA TENGAH", "provinsi jawa tengah"),
        ("Kabupaten Kotabaru", "kabupaten kotabaru"),
    ],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_normalize_name_has_a_docstring_that_explains() -> None:
    doc = normalize_name.__doc__ or ""
    assert "casefold" in doc
    assert "why" in doc.lower()


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(reference, raise_on_error=True).attempted >= 3


def test_a_region_prefix_is_a_value_parsed_once() -> None:
    from hub.vocabulary.reference import RegionPrefix

    prefix = RegionPrefix.parse(" 3373 ")
    assert prefix == "33.73" and isinstance(prefix, str)
    assert RegionPrefix.parse(prefix) is prefix  # taken as it is
    assert prefix.covers("33.73") and not prefix.covers("33.74") and not prefix.covers("33")
    assert [RegionPrefix.parse(x) for x in ("", "x", "33.123", 33)] == [None, None, None, "33"]


async def test_a_request_normalises_its_region_prefixes_once(
    hub: Any, truth: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every reader below the GraphQL input (each source's condition, the disclosure checks)
    takes the RegionPrefix as it is: the text is read once per code given."""
    from hub.vocabulary import reference

    calls: list[Any] = []
    original = reference._prefix_text

    def counting(prefix: Any) -> Any:
        calls.append(prefix)
        return original(prefix)

    monkeypatch.setattr(reference, "_prefix_text", counting)
    result = await hub.execute(
        '{ cases(first: 3, filter: { regions: ["33", "3173"] }) { totalCount edges { node { id } } } }'
    )
    from tests.test_filters import expected_cases, truth_victims

    # The ground truth writes codes dotted: "3173" is regency 31.73.
    selected = expected_cases(truth, truth_victims(truth), {"regions": ["33", "31.73"]})
    assert result.errors is None and result.data["cases"]["totalCount"] == len(selected) > 0
    assert calls == ["33", "3173"]
