"""An independent noise model: perturbed person records with their ground truth kept.

The demo generator (``hub.demo.noise``) adds the noise its author expected: old and new
orthography, titles, ``bin``/``binti``, typing slips, birth dates off or year-only. A linker
tuned on that data can win on it and still fail on the registers of the field. This module is
written apart from it, with its own lists and its own rules, and perturbs national
:class:`~hub.vocabulary.model.PersonRecord`\\ s (what the adapters hand to the linkage), so
every linker compared in ``bench/`` gets exactly the same records.

Classes of noise (each perturbed record gets one, recorded in :attr:`Perturbed.classes`):

- ``nickname`` — a given name replaced by the short form people are called by (``Irnanto``
  → ``Anto``, ``Tuti`` → ``Tut``, ``Rahmat`` → ``Amat``): its own list plus syllable rules;
- ``spelling`` — Arabic-origin and regional spelling variants (``Nur``/``Noor``,
  ``Yahya``/``Yahja``, ``Hasanah``/``Chasanah``, ``Zainal``/``Zaenal``, ``Arifin``/``Aripin``,
  final ``h`` dropped, ``i``/``y``/``ie`` endings);
- ``nik_digit`` — one NIK digit mistyped, or two adjacent digits swapped;
- ``missing`` — NIK, birth date and passport left out, so only name, sex, region, phone and
  address remain;
- ``dropped_middle`` — a middle name left out (``Putri Halima Haryanti`` → ``Putri Haryanti``);
- ``typo`` — a neighbouring key on the keyboard (``Halima`` → ``Hqlima``);
- ``day_month`` — day and month of the birth date swapped;
- ``order`` — given names written in another order, upper case;
- ``combined`` — two or three of the above at once;
- ``namesake`` — a *new* person (own truth label) who shares the full name of an existing
  one, with another birth date and region and no NIK: any link to it is a false pair. Half
  of them carry nothing but the name and sex (a suspect as a police report names them).
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from hub.vocabulary.model import PersonRecord

CLASSES = (
    "nickname",
    "spelling",
    "nik_digit",
    "missing",
    "dropped_middle",
    "typo",
    "day_month",
    "order",
    "combined",
)

#: Irregular short forms (the name people use → a given name it stands for), this model's own.
_SHORT_FORMS = {
    "rahmat": "amat",
    "slamet": "met",
    "abdullah": "dul",
    "abdul": "dul",
    "muhammad": "mamad",
    "mohammad": "memet",
    "joko": "jek",
    "bambang": "bams",
    "agustina": "tina",
    "kristina": "tina",
    "margaretha": "eta",
    "elizabeth": "lisa",
    "yohanes": "anes",
    "fransiskus": "frans",
    "sri": "sri",
}

#: Spelling variants of this model (regex on a lower-case token → replacement), tried in turn.
_VARIANTS = (
    (r"^nur", "noor"),
    (r"^noor", "nur"),
    (r"ya", "ja"),
    (r"^ha", "cha"),
    (r"^kh", "ch"),
    (r"ai", "ae"),
    (r"ae", "ai"),
    (r"f", "p"),
    (r"sy", "sh"),
    (r"z", "j"),
    (r"ah$", "a"),
    (r"i$", "y"),
    (r"y$", "ie"),
    (r"v", "f"),
    (r"u", "o"),
    (r"([bcdfgklmnprst])\1", r"\1"),
)

_KEYBOARD = {
    row[i]: row[max(0, i - 1)] + row[min(len(row) - 1, i + 1)]
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i in range(len(row))
}
_VOWELS = set("aeiou")


@dataclass(slots=True)
class Perturbed:
    """The perturbed records, their truth labels and which noise each record carries."""

    records: list[PersonRecord]
    labels: list[str]
    #: record position → noise class (namesakes included)
    classes: dict[int, str] = field(default_factory=dict)


def _tokens(name: str | None) -> list[str]:
    return re.findall(r"[A-Za-z]+", name or "")


def _case_like(original: str, text: str) -> str:
    if original.isupper():
        return text.upper()
    return text.capitalize() if original[:1].isupper() else text


def _syllable_tail(token: str) -> str | None:
    """The last two syllables of a longer token (``irnanto`` → ``anto``), or None."""
    lower = token.lower()
    if len(lower) < 5:
        return None
    # syllable starts: a consonant followed by a vowel
    starts = [i for i in range(1, len(lower) - 1) if lower[i] not in _VOWELS and lower[i + 1] in _VOWELS]
    if len(starts) < 2:
        return None
    cut = starts[-2]
    # keep a vowel-initial tail ("anto") when the letter before the cut is a vowel-led syllable
    if cut >= 2 and lower[cut - 1] in _VOWELS and lower[cut - 2] not in _VOWELS:
        cut -= 1
    tail = lower[cut:]
    return tail if 3 <= len(tail) < len(lower) else None


def _syllable_head(token: str) -> str | None:
    """The first syllable closed by the next consonant (``tuti`` → ``tut``), or None."""
    lower = token.lower()
    match = re.match(r"[^aeiou]*[aeiou]+[^aeiou]", lower)
    if not match or len(match.group(0)) >= len(lower) or len(match.group(0)) < 3:
        return None
    return match.group(0)


def nickname(name: str, rng: random.Random) -> str | None:
    """The name with one given name replaced by a short form; sometimes only that form."""
    words = _tokens(name)
    options = []
    for i, word in enumerate(words):
        lower = word.lower()
        if lower in _SHORT_FORMS and _SHORT_FORMS[lower] != lower:
            options.append((i, _SHORT_FORMS[lower]))
        for form in (_syllable_tail(word), _syllable_head(word)):
            if form:
                options.append((i, form))
    if not options:
        return None
    i, form = rng.choice(options)
    if len(words) == 1 or rng.random() < 0.4:
        return _case_like(words[i], form)
    words[i] = _case_like(words[i], form)
    return " ".join(words)


def spelling(name: str, rng: random.Random) -> str | None:
    """One spelling variant in one token, or None when no rule applies."""
    words = _tokens(name)
    order = list(range(len(words)))
    rng.shuffle(order)
    rules = list(_VARIANTS)
    rng.shuffle(rules)
    for i in order:
        lower = words[i].lower()
        for pattern, repl in rules:
            changed = re.sub(pattern, repl, lower, count=1)
            if changed != lower and len(changed) >= 2:
                words[i] = _case_like(words[i], changed)
                return " ".join(words)
    return None


def nik_digit(nik: str | None, rng: random.Random) -> str | None:
    """A NIK with one digit mistyped or two adjacent digits swapped (None if none recorded)."""
    digits = re.sub(r"\D", "", nik or "")
    if len(digits) != 16:
        return None
    chars = list(digits)
    swaps = [i for i in range(15) if chars[i] != chars[i + 1]]
    if swaps and rng.random() < 0.4:
        i = rng.choice(swaps)
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        i = rng.randrange(16)
        chars[i] = rng.choice([d for d in "0123456789" if d != chars[i]])
    return "".join(chars)


def dropped_middle(name: str) -> str | None:
    words = _tokens(name)
    if len(words) < 3:
        return None
    return " ".join(words[:1] + words[2:])


def typo(name: str, rng: random.Random) -> str | None:
    words = _tokens(name)
    longer = [i for i, w in enumerate(words) if len(w) >= 4]
    if not longer:
        return None
    i = rng.choice(longer)
    word = words[i]
    pos = rng.randrange(1, len(word))
    near = _KEYBOARD.get(word[pos].lower())
    if not near:
        return None
    letter = rng.choice(near)
    words[i] = word[:pos] + (letter.upper() if word[pos].isupper() else letter) + word[pos + 1 :]
    return " ".join(words)


def day_month(born: date | None) -> date | None:
    if born is None or born.day > 12 or born.day == born.month:
        return None
    return date(born.year, born.day, born.month)


def reorder(name: str) -> str | None:
    words = _tokens(name)
    if len(words) < 2:
        return None
    return " ".join(words[1:] + words[:1]).upper()


def _apply(kind: str, record: PersonRecord, rng: random.Random) -> PersonRecord | None:
    """The record with one kind of noise, or None when it does not apply to this record."""
    name = record.full_name or ""
    if kind == "nickname":
        new = nickname(name, rng)
        return replace(record, full_name=new) if new else None
    if kind == "spelling":
        new = spelling(name, rng)
        return replace(record, full_name=new) if new else None
    if kind == "nik_digit":
        nik = nik_digit(record.nik, rng)
        return replace(record, nik=nik) if nik else None
    if kind == "missing":
        if not (record.nik or record.birth_date or record.passport_number):
            return None
        return replace(record, nik=None, birth_date=None, passport_number=None)
    if kind == "dropped_middle":
        new = dropped_middle(name)
        return replace(record, full_name=new) if new else None
    if kind == "typo":
        new = typo(name, rng)
        return replace(record, full_name=new) if new else None
    if kind == "day_month":
        born = day_month(record.birth_date)
        return replace(record, birth_date=born) if born else None
    if kind == "order":
        new = reorder(name)
        return replace(record, full_name=new) if new else None
    raise ValueError(kind)


def _combined(record: PersonRecord, rng: random.Random) -> PersonRecord | None:
    kinds = [k for k in CLASSES if k not in ("combined", "missing")]
    rng.shuffle(kinds)
    wanted = rng.choice((2, 3))
    applied = 0
    for kind in kinds:
        changed = _apply(kind, record, rng)
        if changed is not None:
            record = changed
            applied += 1
            if applied == wanted:
                return record
    return None


def _namesake(record: PersonRecord, n: int, rng: random.Random) -> PersonRecord:
    """A different person with the same written name (and sex)."""
    bare = rng.random() < 0.5
    born = None
    if record.birth_date is not None and not bare:
        born = record.birth_date + timedelta(days=rng.choice((-1, 1)) * rng.randint(800, 9000))
    return replace(
        record,
        source=record.source,
        key=f"namesake-{n}",
        case_key=f"namesake-case-{n}",
        nik=None,
        birth_date=born,
        passport_number=None,
        phone=None,
        address=None,
        domicile_region=None if bare else record.domicile_region,
    )


def perturb(
    records: Sequence[PersonRecord],
    labels: Sequence[str],
    *,
    seed: int = 7,
    share: float = 0.25,
    namesakes: float = 0.03,
) -> Perturbed:
    """Perturb ``share`` of the records that have a true partner; add ``namesakes`` new people.

    Only records whose person has another record are perturbed (a perturbation of a record
    without a partner cannot cost recall). Classes rotate so each gets about as many records.
    """
    rng = random.Random(seed)
    out = Perturbed(list(records), list(labels))
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_person[label].append(i)
    partnered = [i for i, label in enumerate(labels) if len(by_person[label]) > 1]
    rng.shuffle(partnered)
    chosen = partnered[: int(len(partnered) * share)]
    turn = 0
    for i in chosen:
        for attempt in range(len(CLASSES)):
            kind = CLASSES[(turn + attempt) % len(CLASSES)]
            changed = (
                _combined(out.records[i], rng) if kind == "combined" else _apply(kind, out.records[i], rng)
            )
            if changed is not None:
                out.records[i] = changed
                out.classes[i] = kind
                turn += 1
                break
    named = [i for i, r in enumerate(records) if len(_tokens(r.full_name)) >= 2]
    for n in range(int(len(records) * namesakes)):
        original = records[rng.choice(named)]
        out.records.append(_namesake(original, n, rng))
        out.labels.append(f"namesake-{n}")
        out.classes[len(out.records) - 1] = "namesake"
    return out
