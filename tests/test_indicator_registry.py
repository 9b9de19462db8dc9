"""The indicator registry: extending it needs no code, and a wrong file is refused at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.engine.indicators.spec import BUILTIN_REGISTRY, RegistryError, load_registry

GOOD = """\
# A new indicator written by a data officer: no code, only the vocabulary.
id = "rights.legal_aid"
theme = "VICTIM_RIGHTS"
kind = "PERSON_SHARE"
unit = "SHARE"
legal_basis = "UU 21/2007 Pasal 35"
disaggregations = ["SEX", "YEAR"]
needs = ["CASE", "PERSON", "SERVICE", "LINKAGE"]

[name]
en = "Victims who received legal aid"
id = "Korban yang menerima bantuan hukum"

[definition]
en = "Share of identified victims with legal aid."
id = "Proporsi korban yang menerima bantuan hukum."

[population]
roles = ["VICTIM", "VICTIM_WITNESS"]

[numerator]
services = ["LEGAL_AID"]
statuses = ["ONGOING", "COMPLETED"]

[metadata]
concept = { en = "Legal aid", id = "Bantuan hukum" }
formula = "victims with LEGAL_AID / victims"
frequency = "ANNUAL"
reference_codes = ["ServiceType"]
"""


def write(tmp_path: Path, text: str, name: str = "new.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        load_registry([path])
    return [str(p) for p in caught.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_shipped_registry_is_valid() -> None:
    registry = load_registry()
    assert len(registry) == len(list(BUILTIN_REGISTRY.glob("*.toml"))) >= 16
    themes = {i.theme.name for i in registry}
    assert themes == {"VICTIM_RIGHTS", "LAW_ENFORCEMENT", "PROTECTION", "COORDINATION"}


def test_a_new_file_using_only_the_vocabulary_is_accepted(tmp_path: Path) -> None:
    registry = load_registry([*BUILTIN_REGISTRY.glob("*.toml"), write(tmp_path, GOOD)])
    added = registry.get("rights.legal_aid")
    assert added is not None and added.numerator is not None
    assert {s.name for s in added.numerator.services} == {"LEGAL_AID"}


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ('unit = "SHARE"', 'unit = "SHARE"\ncolour = "red"', "colour", "[colour]: unknown setting"),
        ("[numerator]\n", "[numerator]\nservice = 1\n", "service = 1", "did you mean 'services'?"),
        ('services = ["LEGAL_AID"]', 'services = ["LEGAL_AIDE"]', "LEGAL_AIDE", "did you mean 'LEGAL_AID'?"),
        ('theme = "VICTIM_RIGHTS"', 'theme = "RIGHTS"', "theme =", "is not a Theme"),
        ('unit = "SHARE"', 'unit = "MEDIAN_DAYS"', "unit =", "cannot be measured in MEDIAN_DAYS"),
        (
            '["SEX", "YEAR"]',
            '["SEX", "SERVICE_TYPE"]',
            "disaggregations",
            "cannot be disaggregated by SERVICE_TYPE",
        ),
        (
            'roles = ["VICTIM", "VICTIM_WITNESS"]',
            "roles = []",
            "[population]",
            "empty denominator is impossible",
        ),
        ('"SERVICE", "LINKAGE"]', '"LINKAGE"]', "needs =", "needs SERVICE"),
        ('statuses = ["ONGOING", "COMPLETED"]', "", "[numerator]", "'statuses' must list"),
    ],
)
def test_a_wrong_file_is_refused_at_its_line(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    path = write(tmp_path, text)
    found = problems(path)
    expected = f"{path}:{line_of(text, needle)}:"
    assert any(p.startswith(expected) and message in p for p in found), found


def test_a_case_indicator_cannot_be_disaggregated_by_sex(tmp_path: Path) -> None:
    funnel = (BUILTIN_REGISTRY / "enforcement_case_funnel.toml").read_text(encoding="utf-8")
    text = funnel.replace('disaggregations = ["PROVINCE"', 'disaggregations = ["SEX", "PROVINCE"')
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}:{line_of(text, 'disaggregations')}: a CASE_FUNNEL indicator cannot be disaggregated by SEX: "
        "the data it counts does not carry it"
    ]


def test_funnel_steps_out_of_order_are_an_impossible_denominator(tmp_path: Path) -> None:
    funnel = (BUILTIN_REGISTRY / "enforcement_case_funnel.toml").read_text(encoding="utf-8")
    text = funnel.replace('"DOSSIER_COMPLETE", "TRIAL"', '"TRIAL", "DOSSIER_COMPLETE"')
    path = write(tmp_path, text)
    found = problems(path)
    assert any("DOSSIER_COMPLETE comes before TRIAL" in p and p.startswith(f"{path}:") for p in found), found


def test_duplicate_ids_and_broken_toml(tmp_path: Path) -> None:
    first, second = write(tmp_path, GOOD, "a.toml"), write(tmp_path, GOOD, "b.toml")
    found = problems_of([first, second])
    assert found == [f"{second}:2: id 'rights.legal_aid' is already defined in {first}"]
    broken = write(tmp_path, GOOD.replace('unit = "SHARE"', "unit = "), "c.toml")
    assert problems(broken)[0].startswith(f"{broken}:5: not valid TOML")


def problems_of(paths: list[Path]) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        load_registry(paths)
    return [str(p) for p in caught.value.problems]


def test_docs_page_is_generated_from_the_registry() -> None:
    from hub.engine.indicators.document import render

    page = Path(__file__).resolve().parents[1] / "docs" / "indicators.md"
    text = render()
    assert page.read_text(encoding="utf-8") == text, (
        "run: python -m hub.engine.indicators.document > docs/indicators.md"
    )
    for indicator in load_registry():
        assert f"`{indicator.id}`" in text and indicator.definition.en in text
