"""Indonesian identifying fields made comparable: names, NIKs, passports and birth dates.

Agencies write the same person differently (docs/demo-agencies.md, shared/notes/domain.md):

- names in upper or mixed case, with or without titles and honorifics (``H.``, ``Hj.``,
  ``Drs.``, ``S.Pd.``, ``Ir.``, ``dr.``, …), with or without the patronym (``bin``/``binti``
  and the father's name), in the pre-1972 spelling (``oe``, ``dj``, ``tj``, ``nj``, ``sj``,
  ``ch``) or the modern one, with common given names abbreviated (``M.``, ``Moh.``, ``Abd.``);
- a NIK copied from the KTP, which encodes the regency of first registration, the birth date
  and, by adding 40 to the day, the sex of a woman (PP 37/2007 Pasal 37);
- a birth date known only by its year, written as 1 January of that year.

Everything here is pure and deterministic, so the same record always yields the same keys,
and nothing here is ever logged or stored: normalised names are personal data too.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from rapidfuzz.distance import DamerauLevenshtein

from hub.linkage.variants import knowledge
from hub.vocabulary.model import Sex

#: Titles and honorifics (gelar) that agencies add or leave out, after punctuation is removed
#: and letters are lowered: religious (haji), academic, professional and customary ones.
TITLES = frozenset(
    {
        "h", "hj", "haji", "hajjah", "kh", "ust", "ustadz", "ustaz", "ustadzah", "drs", "dra", "dr",
        "ir", "prof", "spd", "sag", "spdi", "sh", "se", "st", "skom", "sked", "ssos", "sip",
        "mm", "mpd", "msi", "mh", "amd", "amk", "bsc", "ba", "ma", "sp", "mba", "tn", "ny",
        "nn", "sdr", "sdri", "bpk", "bapak", "ibu", "raden", "rd", "ajeng", "kanjeng",
    }
)  # fmt: skip

#: Words that start the patronym ("bin Sulaiman", "binti Ahmad"): it and what follows are
#: kept apart from the given name, since agencies write it or leave it out. A longer word one
#: typing slip away from ``binti`` (``bnti``, ``bintii``) counts too (:func:`is_patronym_marker`).
PATRONYM_MARKERS = frozenset({"bin", "binti", "bt", "bte", "bint"})

_NON_LETTER = re.compile(r"[^a-z]+")
_WORD_BREAK = re.compile(r"[\s,;/()]+")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
_DIGITS = re.compile(r"\D+")
_DOUBLE = re.compile(r"(.)\1+")


@dataclass(frozen=True, slots=True)
class NameParts:
    """A name split into its comparable given-name tokens and its patronym, if written."""

    tokens: tuple[str, ...]
    patronym: tuple[str, ...]

    @property
    def text(self) -> str:
        """The given-name tokens as one string, for similarity scoring."""
        return " ".join(self.tokens)


def _fold(text: str) -> str:
    """Lower case with accents removed (``É`` → ``e``)."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def _words(raw: str) -> list[tuple[str, bool]]:
    """(word, is_title) pairs; a dotted abbreviation is one word (``S.Pd.`` → ``spd``).

    A word is split at its dots unless the dots only abbreviate a title, so ``H.Ahmad``
    gives ``h`` and ``ahmad``. Words after a comma (``Budi, S.Pd.``) are titles when they
    are in :data:`TITLES`, as are such words anywhere.
    """
    out: list[tuple[str, bool]] = []
    for word in _WORD_BREAK.split(_fold(raw)):
        plain = _NON_LETTER.sub("", word)
        if not plain:
            continue
        if plain in TITLES:
            out.append((plain, True))
            continue
        for part in _NON_LETTER.split(word):
            if part:
                out.append((part, part in TITLES))
    return out


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by one inserted, dropped, changed or swapped letter."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    return DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1


@lru_cache(maxsize=4096)
def is_patronym_marker(word: str) -> bool:
    """``bin``/``binti`` and their short forms, or a word one slip away from ``binti``."""
    return word in PATRONYM_MARKERS or (4 <= len(word) <= 6 and _one_edit(word, "binti"))


@lru_cache(maxsize=200_000)
def modern_spelling(token: str) -> str:
    """One lower-case token in modern spelling, with common names in canonical form.

    The rules and names are the reviewed tables of :mod:`hub.linkage.variants`.
    """
    names = knowledge()
    token = names.canonical.get(token, token)
    for old, new in names.spelling:
        if old in token:
            token = token.replace(old, new)
    return names.canonical.get(token, token)


@lru_cache(maxsize=200_000)
def sound_key(token: str) -> str:
    """What a modern-spelling token sounds like: two spellings of one name share the key.

    ``hasanah``/``khasanah``, ``yahya``/``yahja``, ``fatimah``/``fatima``, ``amar``/``ammar``
    (the rules of ``data/sound.csv``).
    """
    for pattern, replacement in knowledge().sound:
        token = pattern.sub(replacement, token)
    return token


#: One word of a written name as :func:`normalise_name` uses it: (word, is a title, is a
#: patronym marker, the word in modern spelling, interned).
_Word = tuple[str, bool, bool, str]


def _word_forms(word: str, is_title: bool) -> _Word:
    # Interned: a million records share a few thousand distinct tokens.
    return (word, is_title, is_patronym_marker(word), sys.intern(modern_spelling(word)))


@lru_cache(maxsize=65_536)
def _written_word(word: str) -> tuple[_Word, ...]:
    """The words :func:`_words` makes of one written word, with what :func:`normalise_name` needs of each.

    Once per distinct written word: a million names are made of a few ten thousand.
    """
    return tuple(_word_forms(part, is_title) for part, is_title in _words(word))


def forget_written_words() -> None:
    """Empty the cache of written words (once a run's names are read)."""
    _written_word.cache_clear()


@lru_cache(maxsize=262_144)
def normalise_name(raw: str | None) -> NameParts:
    """The comparable parts of a name as one agency wrote it (empty for no name)."""
    if not raw:
        return NameParts((), ())
    words = [forms for word in _WORD_BREAK.split(_fold(raw)) if word for forms in _written_word(word)]
    if all(forms[1] for forms in words):  # a name that is only title-like words: keep it
        words = [(word, False, marker, modern) for word, _title, marker, modern in words]
    given: list[str] = []
    patronym: list[str] = []
    target = given
    for _word, is_title, marker, modern in words:
        if is_title:
            continue
        if marker and given:
            target = patronym
            continue
        target.append(modern)
    return NameParts(tuple(given), tuple(patronym))


@lru_cache(maxsize=200_000)
def phonetic(token: str) -> str:
    """A coarse sound key of one token: doubled letters collapsed, vowels after the first dropped.

    Typing slips (a doubled or dropped vowel) and ``y``/``i`` spellings then share a key.
    """
    token = _DOUBLE.sub(r"\1", token.replace("y", "i"))
    if len(token) <= 2:
        return token
    head, tail = token[0], token[1:]
    return head + "".join(c for c in tail if c not in "aeiou")


def name_key(parts: NameParts) -> str:
    """Order-free key of the given name (``Siregar Budi`` and ``Budi Siregar`` agree)."""
    return " ".join(sorted(phonetic(sound_key(t)) for t in parts.tokens if len(t) > 1))


# --- NIK and passport ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NikFacts:
    """What a NIK says about its holder (PP 37/2007 Pasal 37)."""

    region: str  # regency of first registration, dotted ("33.73")
    sex: Sex
    birth_date: date | None  # None when the encoded date is not a calendar date


def normalise_nik(raw: str | None) -> str | None:
    """The 16 digits of a NIK, or None when what was written cannot be one."""
    if not raw:
        return None
    digits = _DIGITS.sub("", raw)
    if len(digits) != 16 or digits == "0" * 16:
        return None
    return digits


def nik_facts(nik: str, reference_year: int = 2025) -> NikFacts:
    """Region, sex and birth date encoded in a normalised NIK (+40 on the day for women).

    The two-digit birth year is read as the most recent year not after ``reference_year``.
    """
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = Sex.FEMALE if day > 40 else Sex.MALE
    if day > 40:
        day -= 40
    century = 2000 if yy <= reference_year % 100 else 1900
    try:
        born: date | None = date(century + yy, month, day)
    except ValueError:
        born = None
    return NikFacts(region=f"{nik[:2]}.{nik[2:4]}", sex=sex, birth_date=born)


def normalise_passport(raw: str | None) -> str | None:
    """A passport number in upper case without spaces or punctuation (None if too short)."""
    if not raw:
        return None
    text = _NOT_ALNUM.sub("", raw.upper())
    return text if len(text) >= 6 else None


# --- dates -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BirthDate:
    """A recorded birth date; ``year_only`` when only the year is known (written as 1 January)."""

    value: date
    year_only: bool

    @property
    def year(self) -> int:
        return self.value.year


def normalise_birth_date(value: date | None) -> BirthDate | None:
    """The recorded birth date, flagging 1 January as "only the year is known"."""
    if value is None:
        return None
    return BirthDate(value, year_only=(value.month == 1 and value.day == 1))


# --- contacts ----------------------------------------------------------------------------

#: Address words that say nothing about the place (and their abbreviations, unified).
_ADDRESS_WORDS = {
    "jalan": "jl", "jln": "jl", "gang": "gg", "kelurahan": "kel", "desa": "ds", "kecamatan": "kec",
    "kabupaten": "kab", "kota": "kota", "nomor": "no", "blok": "blok", "rt": "rt", "rw": "rw",
}  # fmt: skip


_ADDRESS_TOKEN = re.compile(r"[a-z]+|\d+")


def normalise_phone(raw: str | None) -> str | None:
    """The last nine digits of a phone number (``+62 812-…`` and ``0812…`` agree), or None."""
    if not raw:
        return None
    digits = _DIGITS.sub("", raw)
    return digits[-9:] if len(digits) >= 9 else None


def _address_word(word: str) -> str:
    """One address word as compared: a number without leading zeros, an abbreviation unified."""
    return (word.lstrip("0") or "0") if word[0].isdigit() else _ADDRESS_WORDS.get(word, word)


class _AddressWords(dict[str, str]):
    """:func:`_address_word` of each word met, worked out on first use.

    Addresses are mostly distinct, their words are not (street names, numbers, ``rt``): a
    million addresses hold a few ten thousand distinct words. Looked up by ``map`` over the
    words (no Python call per known word); emptied when it outgrows :data:`_ADDRESS_WORDS_KEPT`.
    """

    def __missing__(self, word: str) -> str:
        if len(self) >= _ADDRESS_WORDS_KEPT:
            self.clear()
        form = self[word] = _address_word(word)
        return form


_ADDRESS_WORDS_KEPT = 200_000
_address_words = _AddressWords()


def normalise_address(raw: str | None) -> str | None:
    """Address words in lower case, abbreviations unified, numbers without leading zeros.

    ``Jalan Melati No. 5, RT 008/RW 003`` and ``JL. MELATI NO.5 RT.08 RW.03`` agree.
    """
    if not raw:
        return None
    return " ".join(map(_address_words.__getitem__, _ADDRESS_TOKEN.findall(_fold(raw)))) or None
