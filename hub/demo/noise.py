"""How agencies get a person slightly wrong: the noise that record linkage has to see through.

Each function takes the true value and the agency's own ``random.Random`` and returns what
that agency wrote down. The kinds of noise are the ones Indonesian registers really show:
old and new orthography (``oe``/``u``, ``dj``/``j``, ``tj``/``c``, ``nj``/``ny``, ``sj``/``sy``),
titles (``H.``, ``Hj.``, ``Drs.``, ``S.Pd.``) and ``bin``/``binti`` parts written or not, upper-case
registers, typing slips, birth dates that are off, day/month swapped or known only by year,
missing NIKs, other phone formats and other addresses.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, timedelta

# (modern, old) spelling pairs of the 1972 EYD reform, as regular expressions on lower case.
_MODERN_TO_OLD = (
    (re.compile(r"u", re.I), "oe"),
    (re.compile(r"(?<![dtns])j", re.I), "dj"),
    (re.compile(r"c(?!h)", re.I), "tj"),
    (re.compile(r"ny", re.I), "nj"),
    (re.compile(r"sy", re.I), "sj"),
)
_OLD_TO_MODERN = (
    (re.compile(r"oe", re.I), "u"),
    (re.compile(r"dj", re.I), "j"),
    (re.compile(r"tj", re.I), "c"),
    (re.compile(r"nj", re.I), "ny"),
    (re.compile(r"sj", re.I), "sy"),
)
_RT_RW = re.compile(r"RT 0*(\d+)/RW 0*(\d+)")
_ABBREVIATIONS = {
    "Muhammad": ("M.", "Moh.", "Muh.", "Mohammad", "Muhamad"),
    "Ahmad": ("Achmad", "A."),
    "Abdul": ("Abd.",),
    "Nur": ("Nurul",),
}


def _keep_case(replacement: str):
    """A ``re.sub`` callback that keeps a capital initial (``Joko`` -> ``Djoko``, not ``djoko``)."""

    def sub(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.isupper() and len(text) > 1:
            return replacement.upper()
        return replacement.capitalize() if text[0].isupper() else replacement

    return sub


def old_spelling(name: str) -> str:
    """The whole name in pre-1972 spelling (``Cahyo Susanto`` -> ``Tjahyo Soesanto``)."""
    for pattern, old in _MODERN_TO_OLD:
        name = pattern.sub(_keep_case(old), name)
    return name


def respell(name: str, rng: random.Random) -> str:
    """One spelling rule applied across the name, in whichever direction the name allows."""
    rules = [(p, r) for p, r in _OLD_TO_MODERN if p.search(name)]
    if not rules:
        rules = [(p, r) for p, r in _MODERN_TO_OLD if p.search(name)]
    if not rules:
        return name
    pattern, replacement = rules[rng.randrange(len(rules))]
    return pattern.sub(_keep_case(replacement), name)


def typo(name: str, rng: random.Random) -> str:
    """A typing slip inside one longer word: swapped, dropped or doubled letter."""
    words = name.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return name
    i = rng.choice(candidates)
    word = words[i]
    pos = rng.randint(1, len(word) - 2)
    kind = rng.randrange(3)
    if kind == 0:
        word = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
    elif kind == 1:
        word = word[:pos] + word[pos + 1 :]
    else:
        word = word[:pos] + word[pos] + word[pos:]
    words[i] = word
    return " ".join(words)


@dataclass(frozen=True)
class NameStyle:
    """How carefully (and in what house style) an agency writes names down."""

    keep_patronym: float = 0.3
    respell: float = 0.08
    abbreviate: float = 0.3
    typo: float = 0.02
    title: float = 0.5
    upper: float = 0.05


def record_name(
    given: str, patronym: str | None, title: str | None, rng: random.Random, style: NameStyle
) -> str:
    """The name as one agency recorded it for one encounter."""
    name = given
    if patronym and rng.random() < style.keep_patronym:
        name = f"{name} {patronym}"
    if rng.random() < style.respell:
        name = respell(name, rng)
    first = name.split(" ", 1)[0]
    if first in _ABBREVIATIONS and rng.random() < style.abbreviate:
        name = rng.choice(_ABBREVIATIONS[first]) + name[len(first) :]
    if rng.random() < style.typo:
        name = typo(name, rng)
    if title and rng.random() < style.title:
        name = f"{name}, {title}" if title == "S.Pd." else f"{title} {name}"
    if rng.random() < style.upper:
        name = name.upper()
    return name


def record_birth_date(
    birth: date, rng: random.Random, *, missing: float, off: float = 0.06, year_only: float = 0.04
) -> date | None:
    """The birth date as written: often right, sometimes absent, off, swapped or year-only."""
    if rng.random() < missing:
        return None
    roll = rng.random()
    if roll < off:
        if birth.day <= 12 and birth.day != birth.month and rng.random() < 0.4:
            return date(birth.year, birth.day, birth.month)
        return birth + timedelta(days=rng.choice((-1, 1)) * rng.randint(1, 30))
    if roll < off + year_only:
        return date(birth.year, 1, 1)
    return birth


def record_age(age: int, rng: random.Random, *, missing: float, off: float = 0.1) -> int | None:
    """An age as asked or estimated at the desk: sometimes absent or a year or two out."""
    if rng.random() < missing:
        return None
    if rng.random() < off:
        return max(0, age + rng.choice((-2, -1, 1, 2)))
    return age


def record_nik(nik: str, rng: random.Random, *, present: float) -> str | None:
    """Agencies copy the NIK exactly from the KTP/KK, or do not record it at all."""
    return nik if rng.random() < present else None


def format_phone(phone: str, style: str) -> str:
    """One mobile number (``081234567890``) in an agency's house format."""
    rest = phone[1:]
    if style == "dashed":
        return f"{phone[:4]}-{phone[4:8]}-{phone[8:]}"
    if style == "intl":
        return f"+62{rest}"
    if style == "intl_spaced":
        return f"+62 {rest[:3]}-{rest[3:7]}-{rest[7:]}"
    if style == "62":
        return f"62{rest}"
    return phone


def record_phone(
    phone: str | None, rng: random.Random, *, present: float, style: str, changed: float = 0.1
) -> str | None:
    """The phone number as recorded; people change numbers, so some agencies have another."""
    if phone is None or rng.random() >= present:
        return None
    if rng.random() < changed:
        phone = phone[:4] + "".join(rng.choice("0123456789") for _ in range(len(phone) - 4))
    return format_phone(phone, style)


def restyle_address(address: str, rng: random.Random, *, upper: float = 0.1) -> str:
    """The same address typed by another clerk: ``Jalan`` for ``Jl.``, ``RT.08`` for ``RT 008``."""
    if rng.random() < 0.3:
        address = address.replace("Jl. ", "Jalan ", 1).replace("Gg. ", "Gang ", 1)
    if rng.random() < 0.3:
        address = _RT_RW.sub(lambda m: f"RT.{int(m[1]):02d} RW.{int(m[2]):02d}", address)
    if rng.random() < upper:
        address = address.upper()
    return address
