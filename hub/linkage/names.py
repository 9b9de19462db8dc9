"""Comparing two names: graded agreement levels, with token-order, token-subset and nickname credit.

Agencies write one person's name in many ways. Two names are compared token by token (given
name tokens in modern spelling, :func:`~hub.linkage.normalise.normalise_name`): each token of
the name with fewer tokens is matched to a distinct token of the other, by the best of

==============  =============================================================  =====
kind            example                                                        rank
==============  =============================================================  =====
``SAME``        ``halima`` / ``halima``                                        5
``SOUND``       ``hasanah`` / ``khasanah`` (same sound key, ``data/sound.csv``)  4
``INITIAL``     ``m`` / ``muhammad``                                           4
``NICKNAME``    ``memet`` / ``muhammad`` (``data/nicknames.csv``)              4
``TYPO``        ``hqlima`` / ``halima`` (one slip, or ratio ≥ 80 on 5+ letters)  3
``SHORT``       ``anto`` / ``irnanto``, ``tut`` / ``tuti`` (a head or tail)    2
==============  =============================================================  =====

The level of the pair follows from the weakest token match and from whether every token of
both names was matched (a *subset*: a middle name dropped) — see :class:`NameLevel`. Token
order never matters. When the tokens cannot all be matched, the level falls back to the
fuzzy ratio of the sorted sound keys.
"""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

from hub.linkage.normalise import NameParts, sound_key
from hub.linkage.variants import knowledge


class NameLevel(IntEnum):
    """How far two names agree, best first (the value orders the levels)."""

    EXACT = 9  # the same tokens, in any order
    VARIANT = 8  # the same tokens up to spelling variants, initials or known nicknames
    SIMILAR = 7  # one typing slip or short form in one token, the rest alike
    SUBSET = 6  # all tokens of the shorter name found in the longer one (≥ 2 tokens)
    SHORT_FORM = 5  # a token written as its head or tail (a nickname: Anto for Irnanto)
    FUZZY = 4  # alike by fuzzy ratio (80-90), not token by token
    PARTIAL = 3  # one token of a one-word name found in a longer name
    WEAK = 2  # fuzzy ratio 70-80
    DIFFERENT = 1
    MISSING = 0  # one side has no name


# token match kinds, by rank
_SAME, _SOUND, _CLOSE, _SHORT = 5, 4, 3, 2


def token_match(a: str, b: str) -> int:
    """The rank of the best match between two name tokens (0: no match)."""
    if a == b:
        return _SAME
    return _token_match(a, b)


#: Pairs of different tokens remembered (about 160 bytes each: a bigger cache cost more
#: memory at 100k records than it saved time).
_TOKEN_CACHE = 32_768


@lru_cache(maxsize=_TOKEN_CACHE)
def _token_match(a: str, b: str) -> int:
    if sound_key(a) == sound_key(b):
        return _SOUND
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) == 1:
        return _SOUND if long[0] == short else 0
    nicknames = knowledge().nicknames
    if long in nicknames.get(short, ()) or short in nicknames.get(long, ()):
        return _SOUND
    if len(short) >= 4 and DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1:
        return _CLOSE
    if len(short) >= 5 and fuzz.ratio(a, b) >= 80:
        return _CLOSE
    if (
        len(short) >= 3
        and len(short) * 5 >= len(long) * 2
        and (long.startswith(short) or long.endswith(short))
    ):
        return _SHORT
    return 0


def _match_all(short: tuple[str, ...], long: tuple[str, ...]) -> int:
    """The weakest rank when each token of ``short`` takes a distinct best token of ``long``.

    0 when some token finds no match. Greedy on the strongest matches first: names have a
    handful of tokens, so this is exact in practice and cheap.
    """
    rows = []
    for s in short:
        row = [token_match(s, t) for t in long]
        if not any(row):
            return 0  # this token matches nothing: the names cannot match token by token
        rows.append(row)
    options = sorted(
        ((rank, x, y) for x, row in enumerate(rows) for y, rank in enumerate(row)),
        reverse=True,
    )
    used_short: set[int] = set()
    used_long: set[int] = set()
    weakest = _SAME
    for rank, x, y in options:
        if rank == 0:
            break
        if x in used_short or y in used_long:
            continue
        used_short.add(x)
        used_long.add(y)
        weakest = min(weakest, rank)
        if len(used_short) == len(short):
            return weakest
    return 0


def compare_names(a: NameParts, b: NameParts) -> tuple[NameLevel, float]:
    """The agreement level of two names and their fuzzy similarity (0-100, sound keys sorted)."""
    ta, tb = a.tokens, b.tokens
    if not ta or not tb:
        return NameLevel.MISSING, 0.0
    if sorted(ta) == sorted(tb):
        return NameLevel.EXACT, 100.0
    sa = " ".join(sorted(sound_key(t) for t in ta))
    sb = " ".join(sorted(sound_key(t) for t in tb))
    return compare_tokens(ta, tb, sa, sb)


def compare_tokens(ta: tuple[str, ...], tb: tuple[str, ...], sa: str, sb: str) -> tuple[NameLevel, float]:
    """:func:`compare_names` on tokens already split, with their sorted sound keys (``sa``, ``sb``)."""
    if sa == sb:
        return NameLevel.VARIANT, 100.0
    similarity = fuzz.ratio(sa, sb)
    short, long = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    rank = _match_all(short, long)
    if rank:
        if len(short) == len(long):
            if rank >= _SOUND:
                return NameLevel.VARIANT, max(similarity, 95.0)
            if rank == _CLOSE:
                return NameLevel.SIMILAR, max(similarity, 90.0)
            return NameLevel.SHORT_FORM, max(similarity, 85.0)
        if len(short) >= 2:
            return NameLevel.SUBSET, max(similarity, 90.0)
        if rank >= _CLOSE and len(short[0]) >= 3:
            return NameLevel.PARTIAL, similarity
    if similarity >= 90:
        return NameLevel.SIMILAR, similarity
    if similarity >= 80:
        return NameLevel.FUZZY, similarity
    if similarity >= 70:
        return NameLevel.WEAK, similarity
    return NameLevel.DIFFERENT, similarity
