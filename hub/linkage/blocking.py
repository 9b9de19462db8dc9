"""Blocking: which pairs of records are worth comparing, so the work grows near-linearly.

Comparing every record with every other is quadratic (10^12 pairs at a million records).
Each record instead emits a few *blocking keys*; only records that share a key are compared.
The keys are chosen so that the same person almost always shares at least one despite the
noise agencies add:

- ``nik`` — the NIK, where recorded; ``nk1``/``nk2`` — its first and last eight digits, so a
  NIK with one mistyped digit still meets its true form;
- ``pas`` — the passport number;
- ``ny`` — order-free sound key of the given name + birth year (recorded or from the NIK);
- ``tb`` — the sound key of each longer name token + the full birth date, which survives a
  typing slip in another token or a dropped middle name;
- ``nr`` — name key + regency (recorded domicile or the NIK's region), for records without a
  birth date;
- ``nx`` — name key + sex alone, for the records that carry nothing else (a police witness);
- ``ph`` — the phone number (last nine digits); ``ad`` — the address, normalised;
- ``br`` — full birth date + regency, which finds a nickname or a name written quite
  differently by the same person's birth date and place;
- ``case`` — the same case in the same source (a victim examined again as a witness).

A key shared by more than :data:`MAX_BLOCK` records (a very common name in a big region) is
dropped: such a block says little and would make the cost quadratic again. The other keys of
those records still find their matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from hub.linkage.features import LinkRecord
from hub.linkage.normalise import phonetic, sound_key

#: Largest block that is still compared pairwise.
MAX_BLOCK = 20
#: Identifier blocks (NIK, passport) hold one person: a bigger one is a data error, capped too.
MAX_ID_BLOCK = 12


def keys_of(record: LinkRecord) -> Iterator[str]:
    """The blocking keys of one record."""
    if record.nik:
        yield f"nik:{record.nik}"
        yield f"nk1:{record.nik[:8]}"
        yield f"nk2:{record.nik[8:]}"
    if record.phone:
        yield f"ph:{record.phone}"
    if record.address:
        yield f"ad:{record.address}"
    if record.passport:
        yield f"pas:{record.passport}"
    if record.case_key is not None:
        yield f"case:{record.source}:{record.case_key}"
    if not record.name_key:
        return
    year = record.birth_year
    if year is not None:
        yield f"ny:{record.name_key}|{year}"
    births = set(record.births)
    for born in births:
        for region in set(record.regions):
            yield f"br:{born.isoformat()}|{region}"
    for born in births:
        for token in {phonetic(sound_key(t)) for t in record.name.tokens if len(t) >= 3}:
            yield f"tb:{token}|{born.isoformat()}"
    for region in set(record.regions):
        yield f"nr:{record.name_key}|{region}"
    if record.sex is not None:
        yield f"nx:{record.name_key}|{record.sex.value}"


_ID_KINDS = ("nik:", "pas:", "ph:")


def _blocks(records: Sequence[LinkRecord]) -> tuple[dict[int, int | list[int]], dict[int, int | list[int]]]:
    """Members of each key, (other keys, identifier keys), keyed by the key's hash.

    Memory matters at a million records (about ten keys each): a key is kept as its hash (a
    collision could only add a pair to score, never lose one) and a key held by one record
    as that record's position, not a list.
    """
    blocks: dict[int, int | list[int]] = {}
    id_blocks: dict[int, int | list[int]] = {}
    for record in records:
        ref = record.ref
        for key in keys_of(record):
            target = id_blocks if key.startswith(_ID_KINDS) else blocks
            slot = hash(key)
            found = target.get(slot)
            if found is None:
                target[slot] = ref
            elif type(found) is int:
                target[slot] = [found, ref]
            else:
                found.append(ref)  # type: ignore[union-attr]
    return blocks, id_blocks


def candidate_pairs(records: Sequence[LinkRecord], only: Iterable[int] | None = None) -> set[tuple[int, int]]:
    """Pairs ``(i, j)`` with ``i < j`` (positions in ``records``) that share a usable key.

    With ``only``, just the pairs that involve at least one of those positions (an
    incremental run compares new records with everything, but old pairs are not redone).
    """
    blocks, id_blocks = _blocks(records)
    wanted = set(only) if only is not None else None
    pairs: set[tuple[int, int]] = set()
    for groups, limit in ((blocks, MAX_BLOCK), (id_blocks, MAX_ID_BLOCK)):
        for members in groups.values():
            if type(members) is int:
                continue
            size = len(members)  # type: ignore[arg-type]
            if size > limit:
                continue
            if wanted is not None:
                fresh = [m for m in members if m in wanted]  # type: ignore[union-attr]
                for i in fresh:
                    for j in members:  # type: ignore[union-attr]
                        if i != j:
                            pairs.add((i, j) if i < j else (j, i))
                continue
            for x in range(size):
                i = members[x]  # type: ignore[index]
                for y in range(x + 1, size):
                    j = members[y]  # type: ignore[index]
                    pairs.add((i, j) if i < j else (j, i))
        groups.clear()
    return pairs
