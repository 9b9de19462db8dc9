"""Blocking: which pairs of records are worth comparing, so the work grows near-linearly.

Comparing every record with every other is quadratic (10^12 pairs at a million records).
Each record instead emits a few *blocking keys*; only records that share a key are compared.
The keys are chosen so that the same person almost always shares at least one despite the
noise agencies add (the passes of :data:`PASSES`):

- ``identifier`` — the NIK, the passport number, the phone number (last nine digits);
- ``nik_near`` — the NIK with one of four overlapping stretches of digits left out
  (:data:`NIK_WINDOWS`), so a NIK with one mistyped digit or two adjacent digits swapped still
  meets its true form; of the pairs such a block holds, only those whose NIKs are that close
  are compared (:func:`_near_niks`);
- ``contact`` — the address, normalised; the same case in the same source, for a victim and
  a victim-witness only (a victim examined again as a witness: any other two records of one
  case are two people);
- ``name_year`` — order-free sound key of the given name + birth year (recorded or from the NIK);
- ``birth_region`` — full birth date + regency, which finds a nickname or a name written quite
  differently by the same person's birth date and place;
- ``token_birth`` — the sound key of each longer name token + the full birth date, which
  survives a typing slip in another token or a dropped middle name;
- ``name_region`` — name key + regency (recorded domicile or the NIK's region), for records
  without a birth date; name key + sex alone, for the records that carry nothing else (a
  police witness); a pair whose birth years are both known and more than a year apart is not
  compared (:func:`_years_may_agree`).

A key shared by more than :data:`MAX_BLOCK` records (a very common name in a big region) is
dropped: such a block says little and would make the cost quadratic again. The other keys of
those records still find their matches. The last pass drops blocks above
:data:`MAX_NAME_BLOCK` already: what only it finds is a name-only pair (see there).

Memory: the passes run one after the other and pairs are streamed to the scorer
(:func:`iter_pairs`), so a run holds one pass's blocks and one integer per pair already given
— not every key of every record, nor a list of all pairs.

Several processes (a big run of the command-line job) share the same work in three steps
that give exactly the pairs of :func:`iter_pairs`: :func:`shard_keys` (each process the keys
of a stretch of the records, as hashes, sorted by the process that owns each hash),
:func:`shard_pairs` (each process the blocks of the hashes it owns, and their pairs, sorted
by the process that owns each pair) and :func:`unique_pairs` (each process its own pairs,
once). A block is a hash: all its members reach the process that owns it, in record order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeAlias

from hub.linkage.features import LinkRecord
from hub.linkage.normalise import phonetic, sound_key
from hub.linkage.scoring import nik_compatible
from hub.vocabulary.model import PersonRole

if TYPE_CHECKING:
    import numpy

    #: An array of 64-bit integers (or of booleans, for a pair test's answer).
    Ints: TypeAlias = numpy.ndarray[Any, Any]
else:
    Ints = Any

VICTIM_ROLES = frozenset({PersonRole.VICTIM, PersonRole.VICTIM_WITNESS})

#: A blocking key: a string (identifiers, NIK windows, an address) or a small tuple of what
#: the key joins (a name key and a year, a birth date and a regency, …). A tuple is hashed
#: from its parts' hashes, which Python keeps for strings and dates: no new string is made
#: and hashed per key (at a million records, a fifth of a blocking pass's time). Keys of
#: one pass are equal exactly when the strings ``"name|year"``… they stand for are.
Key = str | tuple[object, ...]

#: Largest block that is still compared pairwise.
MAX_BLOCK = 20
#: Identifier blocks (NIK, passport) hold one person: a bigger one is a data error, capped too.
MAX_ID_BLOCK = 12
#: The last pass (name + regency, name + sex) keeps smaller blocks. Its keys only bring
#: together records of which one has no birth date or year: every other field that could
#: corroborate a link (NIK, passport, phone, address, case, birth year) has a pass of its own,
#: so a pair only this pass finds has, but for a field whose own block was too big, nothing
#: but a name and a regency or sex — never a link (no link on a name alone), at most a pair
#: for review. A name held by more than this many
#: such records in one regency is too common for a name-only pair to deserve a reviewer's
#: time, and its blocks were a third of all candidate pairs at a million records.
MAX_NAME_BLOCK = 8


def _identifier_keys(record: LinkRecord) -> Iterator[str]:
    if record.nik:
        yield record.nik
    if record.passport:
        yield "p" + record.passport
    if record.phone:
        yield "t" + record.phone


#: Overlapping stretches of the 16 NIK digits, each left out of one key. Every single digit
#: and every two adjacent digits lie within one stretch (they overlap by one digit), so a NIK
#: with one digit mistyped or two adjacent digits swapped still meets its true form on the
#: key that leaves that stretch out; the 11-12 digits kept make a key nearly as selective as
#: the NIK itself.
NIK_WINDOWS: tuple[tuple[int, int], ...] = ((0, 5), (4, 9), (8, 13), (12, 16))


def _nik_near_keys(record: LinkRecord) -> Iterator[str]:
    nik = record.nik  # 16 digits (normalise_nik)
    if nik:
        for n, (start, end) in enumerate(NIK_WINDOWS):
            yield f"{n}{nik[:start]}{nik[end:]}"


def _near_niks(a: LinkRecord, b: LinkRecord) -> bool:
    """Whether a pair of a ``nik_near`` block has NIKs one digit or one adjacent swap apart (or equal).

    Two NIKs sharing 11-12 digits mostly differ in several digits of the stretch left out:
    at a million records such pairs were a fifth of all candidate pairs, none of them one
    person (the generator's truth), and on the perturbed set of ``bench/perturb.py`` none of
    them reached the review band. They are two people born the same day in one district
    (the NIK's date and region digits); what else they share has a pass of its own.
    """
    return nik_compatible(a.nik, b.nik)  # type: ignore[arg-type]  # both hold a NIK (they share a key)


def _contact_keys(record: LinkRecord) -> Iterator[Key]:
    if record.address:
        yield record.address
    # Two records of one case are one person only as victim and victim-witness (any other
    # role in the same case vetoes the pair): only those roles share the case key.
    if record.case_key is not None and record.roles <= VICTIM_ROLES:
        yield (record.source, record.case_key)


def _name_year_keys(record: LinkRecord) -> Iterator[Key]:
    if record.name_key and record.birth_year is not None:
        yield (record.name_key, record.birth_year)


def _birth_region_keys(record: LinkRecord) -> Iterator[Key]:
    if not record.name_key:
        return
    # Each key once per record (a repeated key would count twice towards a block's size):
    # the births are distinct already, the recorded and the NIK's regency may be the same.
    regions = record.regions
    if len(regions) == 2 and regions[0] == regions[1]:
        regions = regions[:1]
    for born in record.births:
        for region in regions:
            yield (born, region)


@lru_cache(maxsize=65_536)
def _birth_tokens(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """The distinct sound keys of a name's longer tokens, once per distinct name."""
    return tuple({phonetic(sound_key(t)) for t in tokens if len(t) >= 3})


def _token_birth_keys(record: LinkRecord) -> Iterator[Key]:
    if not record.name_key or not record.births:
        return
    tokens = _birth_tokens(record.name.tokens)
    for born in record.births:  # distinct (features)
        for token in tokens:
            yield (token, born)


def _name_region_keys(record: LinkRecord) -> Iterator[Key]:
    if not record.name_key:
        return
    for region in set(record.regions):
        yield (record.name_key, region)
    if record.sex is not None:
        yield (record.name_key, record.sex.value)  # a sex ("FEMALE") is never a regency ("33.74")


def _year_span(record: LinkRecord) -> tuple[int, int] | None:
    """The earliest and latest birth year a record states (recorded, or in its NIK)."""
    year = record.birth_year
    if year is None:
        return None
    low = high = year
    for born in record.births:  # a recorded date and the NIK's may differ
        if born.year < low:
            low = born.year
        elif born.year > high:
            high = born.year
    return low, high


def _years_may_agree(a: LinkRecord, b: LinkRecord) -> bool:
    """Whether a pair of a ``name_region`` block may be one person by its birth years.

    Birth years (recorded or from the NIK, every one each record states) all more than a
    year apart cost the pair 6 points (``CONFLICT``), or the two NIKs differ in their date
    digits (8 points); on a name and a regency alone it then stays below the review band (at
    most 5 + 4 for a rare name + 1 patronym + 1.5 regency − 6). A pair that agrees on
    anything more (an identifier, a phone, an address, a case) is found by that field's own
    pass. At a million records most of this pass's pairs were such pairs.
    """
    first = _year_span(a)
    if first is None:
        return True
    second = _year_span(b)
    return second is None or (first[0] - 1 <= second[1] and second[0] - 1 <= first[1])


KeyFunction = Callable[[LinkRecord], Iterable[Key]]
#: Whether a pair of one block of a pass is worth comparing (None: every pair).
PairTest = Callable[[LinkRecord, LinkRecord], bool] | None

#: The blocking passes: (name, keys of one record, largest block compared, which pairs of a
#: block are compared). Each pass builds its own blocks and drops them before the next, so
#: only one kind of key is held at a time. Keys of different kinds never meet (each pass has
#: its own blocks), so they need no prefix. A pair a pass's test turns down may still come
#: from another pass.
PASSES: tuple[tuple[str, KeyFunction, int, PairTest], ...] = (
    ("identifier", _identifier_keys, MAX_ID_BLOCK, None),  # NIK, passport (p…), phone (t…)
    ("nik_near", _nik_near_keys, MAX_BLOCK, _near_niks),
    ("contact", _contact_keys, MAX_BLOCK, None),  # address, same case
    ("name_year", _name_year_keys, MAX_BLOCK, None),
    ("birth_region", _birth_region_keys, MAX_BLOCK, None),
    ("token_birth", _token_birth_keys, MAX_BLOCK, None),
    ("name_region", _name_region_keys, MAX_NAME_BLOCK, _years_may_agree),  # name + regency, name + sex (…#)
)


def keys_of(record: LinkRecord) -> Iterator[str]:
    """Every blocking key of one record, each prefixed with its pass."""
    for name, keys, _limit, _test in PASSES:
        for key in keys(record):
            yield f"{name}:{key}"


def _blocks(records: Sequence[LinkRecord], keys: KeyFunction) -> dict[int, int | list[int]]:
    """Members of each key of one pass, keyed by the key's hash.

    A key is kept as its hash (a collision could only add a pair to score, never lose one)
    and a key held by one record as that record's position, not a list.
    """
    blocks: dict[int, int | list[int]] = {}
    for record in records:
        ref = record.ref
        for key in keys(record):
            slot = hash(key)
            found = blocks.get(slot)
            if found is None:
                blocks[slot] = ref
            elif type(found) is int:
                blocks[slot] = [found, ref]
            else:
                found.append(ref)  # type: ignore[union-attr]
    return blocks


def iter_pairs(records: Sequence[LinkRecord], only: Iterable[int] | None = None) -> Iterator[tuple[int, int]]:
    """Each pair ``(i, j)`` with ``i < j`` (positions in ``records``) sharing a usable key, once.

    Streamed pass by pass: the memory held is one pass's blocks and the set of pairs already
    given (one integer each), never every key of every record nor a list of all pairs. With
    ``only``, just the pairs that involve at least one of those positions (an incremental run
    compares new records with everything, but old pairs are not redone).
    """
    wanted = set(only) if only is not None else None
    width = len(records) + 1
    seen: set[int] = set()
    for _name, keys, limit, test in PASSES:
        blocks = _blocks(records, keys)
        for members in blocks.values():
            if type(members) is int:
                continue
            size = len(members)  # type: ignore[arg-type]
            if size > limit:
                continue
            # Members were appended in record order: ascending positions, so i < j below.
            ordered: list[int] = members  # type: ignore[assignment]
            for x in range(size):
                i = ordered[x]
                fresh_i = wanted is None or i in wanted
                for y in range(x + 1, size):
                    j = ordered[y]
                    if i == j or not (fresh_i or j in wanted):  # type: ignore[operator]
                        continue
                    code = i * width + j
                    if code in seen or (test is not None and not test(records[i], records[j])):
                        continue
                    seen.add(code)
                    yield i, j
        del blocks


#: Per pass, per owning process: the key hashes and the positions of the records holding them
#: (two arrays of 64-bit integers).
KeyShards = list[list[tuple["Ints", "Ints"]]]


def shard_keys(records: Sequence[LinkRecord], refs: range, owners: int) -> KeyShards:
    """The keys of ``records[refs]`` of every pass as hashes, by owner (``hash % owners``).

    The first of the three steps of several processes (module docstring): a key is owned by
    one process, which alone builds its block. The keys are made and hashed one record at a
    time; the hashes are sorted by owner over whole arrays (numpy).
    """
    import numpy as np

    shards: KeyShards = []
    for _name, keys, _limit, _test in PASSES:
        slots: list[int] = []
        members: list[int] = []
        add_slot, add_member = slots.append, members.append
        for ref in refs:
            for key in keys(records[ref]):
                add_slot(hash(key))
                add_member(ref)
        hashes = np.array(slots, dtype=np.int64)
        positions = np.array(members, dtype=np.int64)
        if owners == 1:
            shards.append([(hashes, positions)])
            continue
        owner = hashes % owners  # numpy's remainder has the divisor's sign, as Python's
        shards.append([(hashes[owner == o], positions[owner == o]) for o in range(owners)])
    return shards


def shard_pairs(
    records: Sequence[LinkRecord],
    keys: list[list[tuple[Ints, Ints]]],
    owners: int,
    width: int,
    only: Iterable[int] | None = None,
) -> list[Ints]:
    """The pairs of the blocks of one owner's hashes, as ``i * width + j``, by owner (``code % owners``).

    ``keys[p]`` holds, for pass ``p``, the (hashes, positions) every process found for this
    owner; the members of a block are sorted, so they are ascending as in :func:`iter_pairs`.
    A pair may come more than once (several keys, several passes): :func:`unique_pairs`
    keeps it once. ``records`` serve the passes' pair tests.

    Over whole arrays (numpy): the keys are sorted by hash and position, a block is a run of
    one hash, and the pairs of all blocks of one size are made at once from that size's index
    pairs; the pair tests of the ``nik_near`` and ``name_region``
    passes run over arrays too (:func:`_pair_test`).
    """
    import numpy as np

    wanted = None
    if only is not None:
        wanted = np.zeros(width, dtype=bool)
        wanted[np.fromiter(only, dtype=np.int64)] = True
    found: list[Ints] = []
    for (_name, _keys, limit, test), parts in zip(PASSES, keys, strict=True):
        if not parts:
            continue
        hashes = np.concatenate([hashes for hashes, _refs in parts])
        if len(hashes) < 2:
            continue
        members = np.concatenate([refs for _hashes, refs in parts])
        order = np.lexsort((members, hashes))  # by hash, then by position
        hashes, members = hashes[order], members[order]
        starts = np.flatnonzero(np.concatenate(([True], hashes[1:] != hashes[:-1])))
        sizes = np.diff(np.append(starts, len(hashes)))
        lefts: list[Ints] = []
        rights: list[Ints] = []
        for size in range(2, limit + 1):
            first = starts[sizes == size]
            if not len(first):
                continue
            x, y = np.triu_indices(size, 1)
            lefts.append(members[first[:, None] + x].ravel())
            rights.append(members[first[:, None] + y].ravel())
        if not lefts:
            continue
        left, right = np.concatenate(lefts), np.concatenate(rights)
        keep = left != right  # one record holding two keys of one hash: not a pair
        if wanted is not None:
            keep &= wanted[left] | wanted[right]
        left, right = left[keep], right[keep]
        if test is not None and len(left):
            keep = _pair_test(test, records, left, right)
            left, right = left[keep], right[keep]
        found.append(left * width + right)
    codes = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    if owners == 1:
        return [codes]
    owner = codes % owners
    return [codes[owner == o] for o in range(owners)]


def _pair_test(test: PairTest, records: Sequence[LinkRecord], left: Ints, right: Ints) -> Ints:
    """Which pairs (``left[k]``, ``right[k]``) a pass's test keeps, as a boolean array.

    The two tests of :data:`PASSES` over arrays of what they read (NIK digits, birth-year
    spans) of the records taking part; any other test, or NIKs that are not 16 ASCII
    characters (records built by hand), one pair at a time.
    """
    import numpy as np

    involved = np.unique(np.concatenate((left, right)))
    at_left, at_right = np.searchsorted(involved, left), np.searchsorted(involved, right)
    chosen = [records[k] for k in involved.tolist()]
    if test is _near_niks:
        niks = [record.nik or "" for record in chosen]
        text = "".join(niks)
        if text.isascii() and all(len(nik) == 16 for nik in niks):
            digits = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, 16)
            a, b = digits[at_left], digits[at_right]
            differ = a != b
            count = differ.sum(axis=1)
            keep = count <= 1
            two = np.flatnonzero(count == 2)
            first = differ[two].argmax(axis=1)  # the first differing digit
            second = np.minimum(first + 1, 15)
            swapped = (a[two, first] == b[two, second]) & (a[two, second] == b[two, first]) & (first < 15)
            keep[two[swapped]] = True
            return keep
    elif test is _years_may_agree:
        spans = [_year_span(record) for record in chosen]
        known = np.array([span is not None for span in spans], dtype=bool)
        low = np.array([span[0] if span else 0 for span in spans], dtype=np.int64)
        high = np.array([span[1] if span else 0 for span in spans], dtype=np.int64)
        kl, kr = known[at_left], known[at_right]
        ll, lr, hl, hr = low[at_left], low[at_right], high[at_left], high[at_right]
        return ~kl | ~kr | ((ll - 1 <= hr) & (lr - 1 <= hl))
    assert test is not None
    return np.fromiter(
        (test(records[i], records[j]) for i, j in zip(left.tolist(), right.tolist(), strict=True)),
        dtype=bool,
        count=len(left),
    )


def unique_pairs(parts: Iterable[Ints]) -> list[int]:
    """One owner's pairs from every process's :func:`shard_pairs`, each once, ascending."""
    import numpy as np

    arrays = [part for part in parts if len(part)]
    if not arrays:
        return []
    codes: list[int] = np.unique(np.concatenate(arrays)).tolist()
    return codes


def candidate_pairs(records: Sequence[LinkRecord], only: Iterable[int] | None = None) -> set[tuple[int, int]]:
    """Every pair :func:`iter_pairs` gives, as a set (for tests and small runs)."""
    return set(iter_pairs(records, only))
