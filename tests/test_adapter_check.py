"""``tppo-hub adapter check``: each kind of defect, on a deliberately broken mapping and database.

The database is built here with sqlite3 from the rows listed below; expected counts are
computed from those rows in Python, and expected lines by finding the key in the mapping
text — never from the code under test.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub.server.cli import main

CASES = [  # id, nomor, tgl, dibuka (unix), wilayah, jenis, negara
    (1, "K-1", "2023-01-05", 1672876800, "33.73", "A", "MY"),
    (2, "K-2", "2023-13-45", 1672876800, "33.74", "B", "SA"),
    (3, "K-3", "2099-01-01", 1672876800, "99.99", "ZZ", None),
    (4, "K-4", "1850-01-01", 1672876800, "3373", "ZZ", "XX"),
    (5, "K-5", "2023-02-01", 1672876800, "33.01", "YY", "MY"),
    (6, "K-6", None, 1672876800, "33.01", None, None),
]
VICTIMS = [  # id, id_kasus, nama, nik, jk, lahir
    (10, 1, "A", "3373014101900001", "L", "1990-01-01"),
    (11, 1, "B", "123", "P", "1991-02-03"),
    (12, 2, "C", "33730141019000AB", "P", "2024-05-01"),  # born after the report
    (13, 3, "D", "9912345601900001", "X", None),
    (14, 4, "E", None, "L", "1980-01-01"),
    (15, 5, "F", "3373013213900001", "P", None),  # month 13
]
CODES = {"A": "FORCED_LABOUR", "B": "SEXUAL_EXPLOITATION"}

GOOD = """\
[source]
agency = { code = "UJI", name = "Lembaga Uji", type = "OTHER" }

[case]
table = "kasus"
key = "id"
source_key = "nomor"
reported_at = "tgl"
region = { column = "wilayah" }
country = { column = "negara", format = "alpha2" }
exploitation_types = { column = "jenis", codes = "jenis" }

[[person]]
table = "korban"
key = "id"
joins = [{ table = "kasus", on = { id_kasus = "id" } }]
case_key = "id_kasus"
roles = { value = "VICTIM" }
sex = { column = "jk", codes = "jk" }
birth_date = "lahir"
age_at = "kasus.tgl"
full_name = "nama"
nik = "nik"

[codes.jenis]
A = "FORCED_LABOUR"
B = "SEXUAL_EXPLOITATION"

[codes.jk]
L = "MALE"
P = "FEMALE"
"""


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = sqlite3.connect(tmp_path / "uji.sqlite")
    db.executescript(
        """
        CREATE TABLE kasus (id INTEGER PRIMARY KEY, nomor TEXT, tgl TEXT, dibuka INTEGER,
                            wilayah TEXT, jenis TEXT, negara TEXT);
        CREATE TABLE korban (id INTEGER PRIMARY KEY, id_kasus INTEGER, nama TEXT, nik TEXT,
                             jk TEXT, lahir TEXT);
        """
    )
    db.executemany("INSERT INTO kasus VALUES (?, ?, ?, ?, ?, ?, ?)", CASES)
    db.executemany("INSERT INTO korban VALUES (?, ?, ?, ?, ?, ?)", VICTIMS)
    db.commit()
    db.close()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["adapter", "check", *argv])
    return code, out.getvalue()


def check_json(
    mapping: str, workdir: Path, url: str = "sqlite:///uji.sqlite", *extra: str
) -> tuple[int, dict[str, Any]]:
    (workdir / "uji.toml").write_text(mapping, encoding="utf-8")
    code, out = run("uji.toml", "--url", url, "--json", *extra)
    return code, json.loads(out)


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def findings(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["kind"] == kind]


def test_a_mapping_that_serves_exits_0_and_reports_its_data_problems(workdir: Path) -> None:
    # Five cases, one date that is no date (20%): above the default share it would be refused
    # (tested in tests/test_messy_register.py); here the data problems are the point.
    code, report = check_json(GOOD, workdir, "sqlite:///uji.sqlite", "--max-unparsed", "0.5")
    assert code == 0 and report["ok"] and report["errors"] == 0
    by_field = {(f["kind"], f["field"]): f for f in report["findings"]}

    # Source values with no code mapping, with counts and examples.
    unmapped = [c[5] for c in CASES if c[5] is not None and c[5] not in CODES]
    exploitation = by_field[("unmapped_value", "case:kasus.exploitation_types")]
    assert exploitation["count"] == len(unmapped)
    assert {e["value"]: e["count"] for e in exploitation["examples"]} == {"ZZ": 2, "YY": 1}
    assert exploitation["line"] == line_of(GOOD, "exploitation_types =")
    sexes = by_field[("unmapped_value", "person:korban.sex")]
    assert sexes["examples"] == [{"value": "X", "count": 1, "mapsTo": "UNKNOWN"}]
    regions = by_field[("unmapped_value", "case:kasus.region")]
    assert regions["examples"] == [{"value": "99.99", "count": 1, "mapsTo": None}]
    countries = by_field[("unmapped_value", "case:kasus.country")]
    assert countries["examples"] == [{"value": "XX", "count": 1, "mapsTo": None}]

    # Parse failures: dates that are not calendar dates.
    failures = by_field[("parse_failure", "case:kasus.reported_at")]
    bad_dates = [c[2] for c in CASES if c[2] and not _is_date(c[2])]
    assert failures["count"] == len(bad_dates) and failures["examples"][0]["value"] == "2023-13-45"

    # Suspicious values: future and impossible dates, birth after the report.
    suspicious = {f["message"]: f["count"] for f in findings(report, "suspicious_value")}
    future = sum(1 for c in CASES if c[2] and _is_date(c[2]) and date.fromisoformat(c[2]) > date.today())
    assert suspicious["suspicious values: in the future"] == future == 1
    assert suspicious["suspicious values: before 1900"] == 1
    report_dates = {c[0]: c[2] for c in CASES}
    # Only dates that parse are compared (victim 12's report date, 2023-13-45, is no date).
    born_after = sum(
        1
        for v in VICTIMS
        if v[5] and report_dates[v[1]] and _is_date(report_dates[v[1]]) and v[5] > report_dates[v[1]]
    )
    assert suspicious["suspicious values: born after the report date"] == born_after == 1

    # Invalid NIKs: counted by reason, never shown.
    (niks,) = findings(report, "invalid_nik")
    invalid = [v[3] for v in VICTIMS if v[3] is not None and not _nik_valid(v[3])]
    assert niks["count"] == len(invalid) == 4
    # Never shown: no text of the report holds a NIK as a word of its own (a substring test
    # failed by chance when the short NIK "123" occurred inside a timing or a temporary path).
    words = {w for text in _strings(report) for w in re.findall(r"[0-9A-Za-z]+", text)}
    assert niks["examples"] == [] and not {v[3] for v in VICTIMS if v[3]} & words
    for reason in ("not 16 characters", "not only digits", "unknown province code", "impossible birth month"):
        assert reason in niks["message"]

    # The report also measures completeness, per field.
    quality = {(f["part"], f["field"]): f for f in report["quality"]["fields"]}
    assert quality[("korban", "nik")]["completeness"] == round(100 * 5 / 6, 2)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _nik_valid(nik: str) -> bool:
    if len(nik) != 16 or not nik.isdigit() or nik[:2] not in {"33", "11", "12", "31", "32"}:
        return False
    day, month = int(nik[6:8]), int(nik[8:10])
    return (1 <= day <= 31 or 41 <= day <= 71) and 1 <= month <= 12


def test_strict_turns_warnings_into_a_failure(workdir: Path) -> None:
    (workdir / "uji.toml").write_text(GOOD, encoding="utf-8")
    lenient = ("--max-unparsed", "0.5")
    assert run("uji.toml", "--url", "sqlite:///uji.sqlite", *lenient)[0] == 0
    assert run("uji.toml", "--url", "sqlite:///uji.sqlite", *lenient, "--strict")[0] == 1
    # At the default share, a fifth of the report dates failing their format is refused.
    assert run("uji.toml", "--url", "sqlite:///uji.sqlite")[0] == 1


def test_missing_tables_and_columns_and_wrong_types_fail_with_their_lines(workdir: Path) -> None:
    broken = (
        GOOD.replace('full_name = "nama"', 'full_name = "nama_lengkap"')
        .replace('reported_at = "tgl"', 'reported_at = { column = "dibuka", format = "DD/MM/YYYY" }')
        .replace('source_key = "nomor"', 'source_key = "nomor"\nstage = { column = "tahap" }')
        + '\n[[service]]\ntable = "layanan"\nkey = "id"\ncase_key = "id_kasus"\n'
        + 'type = { value = "SHELTER" }\n'
    )
    code, report = check_json(broken, workdir)
    assert code == 1 and not report["ok"]
    located = {(f["kind"], f["line"]) for f in report["findings"] if f["severity"] == "error"}
    assert ("missing_table", line_of(broken, 'table = "layanan"')) in located
    assert ("missing_column", line_of(broken, 'full_name = "nama_lengkap"')) in located
    assert ("missing_column", line_of(broken, 'stage = { column = "tahap" }')) in located
    assert ("column_type", line_of(broken, 'column = "dibuka"')) in located
    (mistyped,) = findings(report, "column_type")
    assert "dibuka" in mistyped["message"] and "DD/MM/YYYY" in mistyped["message"]


def test_unix_dates_in_a_text_column_are_a_type_error(workdir: Path) -> None:
    code, report = check_json(
        GOOD.replace('reported_at = "tgl"', 'reported_at = { column = "tgl", format = "unix" }'), workdir
    )
    assert code == 1
    (finding,) = findings(report, "column_type")
    assert finding["field"] == "case:kasus.reported_at" and "numeric" in finding["message"]


def test_malformed_toml_names_its_line(workdir: Path) -> None:
    broken = GOOD.replace('key = "id"\nsource_key', 'key = "id\nsource_key', 1)
    code, report = check_json(broken, workdir)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["kind"] == "mapping" and "not valid TOML" in finding["message"]
    assert finding["line"] == line_of(broken, 'key = "id')


def test_unknown_keys_and_wrong_types_name_key_and_line(workdir: Path) -> None:
    broken = GOOD.replace(
        'country = { column = "negara", format = "alpha2" }',
        'country = { column = "negara", fromat = "alpha2" }',
    )
    broken = broken.replace(
        '[[person]]\ntable = "korban"\nkey = "id"', '[[person]]\ntable = "korban"\nkey = 7'
    )
    broken = broken.replace('nik = "nik"', 'nik = "nik"\ncolour = "red"')
    code, report = check_json(broken, workdir)
    assert code == 1
    messages = {f["line"]: f["message"] for f in report["findings"]}
    assert (
        "'fromat'" in messages[line_of(broken, "fromat")]
        and "did you mean 'format'" in messages[line_of(broken, "fromat")]
    )
    assert "key must be a string" in messages[line_of(broken, "key = 7")]
    assert "'colour'" in messages[line_of(broken, "colour")]


def test_an_unreachable_database_fails_without_showing_its_password(workdir: Path) -> None:
    (workdir / "uji.toml").write_text(GOOD, encoding="utf-8")
    code, out = run("uji.toml", "--url", "postgresql://reader:s3cret-pw@127.0.0.1:1/uji", "--timeout", "2")
    assert code == 1
    assert "cannot open the database" in out and "s3cret-pw" not in out
    assert "postgresql://reader:***@127.0.0.1:1/uji" in out


def test_terminal_report_is_a_table(workdir: Path) -> None:
    (workdir / "uji.toml").write_text(GOOD, encoding="utf-8")
    code, out = run("uji.toml", "--url", "sqlite:///uji.sqlite", "--max-unparsed", "0.5")
    assert code == 0
    assert "WARNING" in out and "'ZZ' ×2" in out and "completeness" in out
    assert out.rstrip().endswith("warning(s))") and "OK: the mapping can serve" in out


def test_url_from_the_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "uji.toml").write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("UJI_URL", "sqlite:///uji.sqlite")
    assert run("uji.toml", "--url-env", "UJI_URL", "--max-unparsed", "0.5")[0] == 0
    assert main(["adapter", "check", "uji.toml", "--url-env", "NOT_SET_ANYWHERE"]) == 2


def _strings(value: Any) -> list[str]:
    """Every text in a JSON value (keys and strings, nested)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [t for v in value for t in _strings(v)]
    return []
