"""bench/instructions.py: the count read from callgrind's report, a clear refusal without valgrind."""

from __future__ import annotations

import pytest

from bench import instructions


def test_the_count_is_the_last_collected_figure() -> None:
    log = "==1== Events    : Ir\n==1== Collected : 212927675\n==1==\n==1== I   refs:      212,927,675\n"
    assert instructions._collected(log) == 212_927_675


def test_a_report_without_a_count_is_an_error_naming_it() -> None:
    with pytest.raises(RuntimeError, match="no count"):
        instructions._collected("valgrind: command not found\n")


def test_without_valgrind_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(instructions.shutil, "which", lambda _name: None)
    assert instructions.main([]) == 2
    assert "apt-get install valgrind" in capsys.readouterr().err
