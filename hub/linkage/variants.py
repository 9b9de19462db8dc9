"""Indonesian name knowledge kept as reviewed data files (``hub/linkage/data/*.csv``), not code.

- ``spelling.csv`` — pre-1972 spellings and their modern form (``oe`` → ``u``, ``dj`` → ``j``,
  ``tj`` → ``c``, ``nj`` → ``ny``, ``sj`` → ``sy``, ``ch`` → ``kh``), applied to every token;
- ``given_names.csv`` — abbreviations and spellings of common given names to one canonical
  form (``Moh.``, ``Mochammad``, ``Muhamad`` → ``muhammad``; ``Noor`` → ``nur``);
- ``sound.csv`` — what makes two modern spellings sound alike (``kh``/``h``, ``j``/``y``,
  ``oo``/``u``, doubled letters, a final ``h``): two tokens with the same *sound key* are a
  spelling variant of one name;
- ``nicknames.csv`` — short forms (nama panggilan) that are not a plain head or tail of the
  full name (``Memet`` for ``Muhammad``, ``Ucup`` for ``Yusuf``).

Each file has a ``why`` or header comment per rule so a reviewer can check it; lines starting
with ``#`` are comments. The tables are read once per process.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib import resources


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("hub.linkage").joinpath("data", name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(lines)]


@dataclass(frozen=True, slots=True)
class NameKnowledge:
    """The reviewed tables, compiled."""

    spelling: tuple[tuple[str, str], ...]
    canonical: dict[str, str]
    sound: tuple[tuple[re.Pattern[str], str], ...]
    nicknames: dict[str, frozenset[str]]  # short form → full names it stands for


@cache
def knowledge() -> NameKnowledge:
    """The compiled tables (read once)."""
    nicknames: dict[str, set[str]] = defaultdict(set)
    for row in _rows("nicknames.csv"):
        nicknames[row["short"]].add(row["full"])
    return NameKnowledge(
        spelling=tuple((row["old"], row["new"]) for row in _rows("spelling.csv")),
        canonical={row["variant"]: row["canonical"] for row in _rows("given_names.csv")},
        sound=tuple((re.compile(row["pattern"]), row["replacement"]) for row in _rows("sound.csv")),
        nicknames={short: frozenset(full) for short, full in nicknames.items()},
    )
