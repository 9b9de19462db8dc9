"""Suppression decided exactly: k at its edges, and the chosen cubes against a brute-force search.

tests/test_suppression.py proves that no suppressed cell can be recovered (by linear programs).
This file pins *which* cells are suppressed, so that a weaker or costlier choice fails too:

- the k boundary: a cell of k − 1 is suppressed, k and k + 1 are not (for the inner cells and
  for margins), zeros never, k ≤ 1 suppresses nothing;
- the hypercube method of the module's documentation, re-implemented here as a brute-force
  search over *every* cube (no candidate lists, no budget): primaries taken smallest first
  (then fewer summed dimensions, then by key), each protected by the cube ranked best by
  (no new margin < new margin < new grand total, can shift to k, information lost — one plus
  the count for an inner cell, the count for a margin, nothing for a cell already
  suppressed). Tables are small enough that the module's search is exhaustive too; a table
  where two cubes tie for best at some step is left out (either answer is right), and the
  test asserts that enough tables remain.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from typing import Any

import pytest

from hub.access.suppression import DEFAULT_K, TOTAL, ProtectedTable, TableTooLarge, protect, suppress

K = 11
Key = tuple[Any, ...]


# --- the reference ------------------------------------------------------------------------------


def extended(cells: Mapping[Key, int], total: int | None = None) -> dict[Key, int]:
    dims = len(next(iter(cells)))
    table: dict[Key, int] = {}
    for key, count in cells.items():
        if count == 0:
            continue
        for mask in itertools.product((False, True), repeat=dims):
            margin = tuple(TOTAL if m else v for v, m in zip(key, mask, strict=True))
            table[margin] = table.get(margin, 0) + count
    if total is not None and table:
        table[(TOTAL,) * dims] = total
    return table


def order_key(key: Key) -> tuple[Any, ...]:
    """None first, then values in order, TOTAL last."""
    return tuple((2, "") if v is TOTAL else (0, "") if v is None else (1, v) for v in key)


class Tie(Exception):
    """Two cubes are equally good at some step: the answer is not unique."""


def reference(
    cells: Mapping[Key, int], k: int = K, total: int | None = None, break_ties: bool = False
) -> set[Key]:
    """The documented choice; on a tie, :class:`Tie` — or with ``break_ties`` the first best cube
    in the documented preference order of partners per dimension: already suppressed first,
    the margin last, smaller counts first, then the categories' own order."""
    table = extended(cells, total)
    dims = len(next(iter(cells)))
    summed = {key: sum(1 for v in key if v is TOTAL) for key in table}
    values = [sorted({key[d] for key in table}, key=lambda v: order_key((v,))) for d in range(dims)]
    suppressed = {key for key, n in table.items() if n < k}
    for primary in sorted(suppressed, key=lambda key: (table[key], summed[key], order_key(key))):
        wanted = max(1, k - table[primary])
        ranked = []

        def preference(d: int, v: Any, primary: Key = primary) -> tuple[bool, bool, int]:
            neighbour = (*primary[:d], v, *primary[d + 1 :])
            return (neighbour not in suppressed, v is TOTAL, table.get(neighbour, 0))

        partners = [[v for v in values[d] if v != primary[d]] for d in range(dims)]
        if break_ties:
            partners = [sorted(p, key=lambda v, d=d: preference(d, v)) for d, p in enumerate(partners)]
        for others in itertools.product(*partners):
            corners = []
            room = float("inf")
            for pattern in itertools.product((0, 1), repeat=dims):
                key = tuple(others[d] if bit else primary[d] for d, bit in enumerate(pattern))
                if key not in table:
                    break
                corners.append(key)
                # Moving to another category alternates the sign; moving to or from a margin
                # does not (the margin holds the cell). Only inner cells must stay >= 1.
                flips = sum(
                    1
                    for d, bit in enumerate(pattern)
                    if bit and primary[d] is not TOTAL and others[d] is not TOTAL
                )
                if summed[key] == 0 and flips % 2:
                    room = min(room, table[key] - 1)
            else:
                if room < 1:
                    continue
                new = [c for c in corners if c not in suppressed]
                klass = max([0] + [2 if summed[c] == dims else 1 if summed[c] else 0 for c in new])
                lost = sum(table[c] + (0 if summed[c] else 1) for c in new)
                ranked.append(((klass, room < wanted, lost), corners))
        ranked.sort(key=lambda r: r[0])  # stable: among equals, the first in enumeration order
        assert ranked, "a cube of margins always exists"
        best = [set(corners) - suppressed for rank, corners in ranked if rank == ranked[0][0]]
        if not break_ties and any(b != best[0] for b in best):
            raise Tie
        suppressed.update(ranked[0][1])
    return suppressed


# --- k at its edges -----------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "hidden"), [(1, True), (K - 1, True), (K, False), (K + 1, False)])
def test_inner_cells_at_the_k_boundary(count: int, hidden: bool) -> None:
    cells = {("A",): count, ("B",): 40, ("C",): 30}
    result = suppress(cells, K)
    assert (("A",) in result) is hidden
    # A primary in one dimension takes the smallest partner that can absorb the shift to k.
    assert result == ({("A",), ("C",)} if hidden else set())


def test_default_k_is_eleven() -> None:
    assert DEFAULT_K == 11
    assert suppress({("A",): 10, ("B",): 40, ("C",): 30}) == {("A",), ("C",)}
    assert suppress({("A",): 11, ("B",): 40, ("C",): 30}) == set()


@pytest.mark.parametrize(("a", "b", "hidden"), [(4, 6, True), (4, 7, False), (5, 7, False), (4, 8, False)])
def test_a_margin_at_the_k_boundary(a: int, b: int, hidden: bool) -> None:
    """Row "r" sums to a + b: 10 is under k (suppressed with its row), 11 and 12 are not."""
    cells = {("r", "x"): a, ("r", "y"): b, ("s", "x"): 30, ("s", "y"): 40}
    result = suppress(cells, K)
    assert (("r", TOTAL) in result) is hidden
    assert {("r", "x"), ("r", "y")} <= result


def test_k_of_two_and_one() -> None:
    assert suppress({("A",): 1, ("B",): 5, ("C",): 9}, k=2) == {("A",), ("B",)}
    assert suppress({("A",): 1, ("B",): 5}, k=1) == set()
    assert suppress({("A",): 1, ("B",): 5}, k=0) == set()


def test_zero_cells_are_published_and_not_partners() -> None:
    cells = {("A",): 3, ("B",): 0, ("C",): 50, ("D",): 20}
    assert suppress(cells) == {("A",), ("D",)}
    table = protect(cells)
    assert table.cells == {("A",): None, ("B",): 0, ("C",): 50, ("D",): None}
    assert table.total == 73


def test_partner_must_stay_at_least_one() -> None:
    """B (1) cannot give anything and C (2) only 1, short of k: each small cell needs D (60),
    the one partner that lets it reach k, and A rides on cells already suppressed."""
    cells = {("A",): 5, ("B",): 1, ("C",): 2, ("D",): 60}
    assert suppress(cells) == {("A",), ("B",), ("C",), ("D",)}
    assert suppress(cells) == reference(cells)


# --- against the brute-force reference -----------------------------------------------------------


def handmade() -> list[dict[Key, int]]:
    return [
        {("A",): 3, ("B",): 50, ("C",): 20},
        {("A",): 1, ("B",): 1, ("C",): 30, ("D",): 40},
        {("A",): 10, ("B",): 12, ("C",): 13, ("D",): 100},
        {("A",): 2, ("B",): 9, ("C",): 3, ("D",): 4},
        {("33", "2022"): 4, ("33", "2023"): 25, ("35", "2022"): 30, ("35", "2023"): 18, ("52", "2023"): 2},
        {(None, "F"): 4, ("33", "F"): 30, (None, "M"): 25, ("33", "M"): 40},
        {("a", "x"): 5, ("a", "y"): 20, ("b", "x"): 20, ("b", "y"): 20, ("c", "x"): 12, ("c", "y"): 3},
        {("a", "x"): 1, ("a", "y"): 1, ("b", "x"): 1, ("b", "y"): 50},
    ]


def test_handmade_tables_match_the_reference() -> None:
    checked = 0
    for cells in handmade():
        try:
            expected = reference(cells)
        except Tie:
            continue
        assert suppress(cells) == expected, cells
        checked += 1
    assert checked >= 6


def random_table(rng: random.Random, shape: tuple[int, ...]) -> dict[Key, int]:
    names = [[f"{'rcl'[d]}{i}" for i in range(n)] for d, n in enumerate(shape)]
    counts = [0, 1, 2, 3, 4, 6, 9, 10, 11, 12, 15, 20, 33, 60]
    cells = {key: rng.choice(counts) for key in itertools.product(*names)}
    if not any(cells.values()):
        cells[next(iter(cells))] = 5
    return cells


@pytest.mark.parametrize(
    ("shape", "tables", "least"),
    [
        ((5,), 60, 50),
        ((9,), 30, 20),
        ((3, 3), 60, 25),
        ((4, 5), 40, 10),
        ((2, 2, 2), 40, 10),
        ((3, 3, 2), 40, 30),
    ],
)
def test_random_tables_match_the_reference(shape: tuple[int, ...], tables: int, least: int) -> None:
    rng = random.Random(sum(shape) * 1000 + len(shape))
    checked = 0
    for _ in range(tables):
        cells = random_table(rng, shape)
        try:
            expected = reference(cells)
        except Tie:
            continue
        assert suppress(cells) == expected, cells
        checked += 1
    assert checked >= least, checked


@pytest.mark.parametrize("shape", [(6,), (3, 3), (4, 4), (2, 5), (2, 2, 2), (3, 3, 2)])
def test_ties_go_to_the_documented_preference_order(shape: tuple[int, ...]) -> None:
    """Where cubes tie, the partners come in the documented order (suppressed neighbours
    first, the margin last, then the smallest) and the first best cube is taken."""
    rng = random.Random(len(shape) * 100 + sum(shape))
    ties = 0
    for _ in range(40):
        cells = random_table(rng, shape)
        try:
            reference(cells)
        except Tie:
            ties += 1
        assert suppress(cells) == reference(cells, break_ties=True), cells
    assert ties >= 2  # ties do happen, so the order is exercised


def test_three_dimensional_tables_where_cells_already_suppressed_decide() -> None:
    """Cubes of eight corners, where reusing corners already suppressed (which lose nothing
    more) is what makes one cube cheaper than another."""
    tables: list[dict[Key, int]] = [
        {
            ("r0", "c0", "l0"): 33,
            ("r0", "c0", "l1"): 4,
            ("r0", "c1", "l0"): 33,
            ("r0", "c1", "l1"): 12,
            ("r1", "c0", "l0"): 1,
            ("r1", "c0", "l1"): 2,
            ("r1", "c1", "l0"): 1,
            ("r1", "c1", "l1"): 15,
        },
        {
            ("r0", "c0", "l0"): 2,
            ("r0", "c0", "l1"): 4,
            ("r0", "c1", "l0"): 1,
            ("r0", "c1", "l1"): 6,
            ("r0", "c2", "l0"): 4,
            ("r0", "c2", "l1"): 60,
            ("r1", "c0", "l0"): 12,
            ("r1", "c0", "l1"): 12,
            ("r1", "c1", "l1"): 12,
            ("r1", "c2", "l0"): 15,
            ("r1", "c2", "l1"): 20,
            ("r2", "c0", "l0"): 6,
            ("r2", "c0", "l1"): 1,
            ("r2", "c1", "l0"): 4,
            ("r2", "c1", "l1"): 6,
            ("r2", "c2", "l0"): 60,
            ("r2", "c2", "l1"): 4,
        },
        {
            ("r0", "c0", "l0"): 4,
            ("r0", "c0", "l1"): 15,
            ("r0", "c1", "l1"): 33,
            ("r0", "c2", "l1"): 20,
            ("r1", "c0", "l0"): 1,
            ("r1", "c0", "l1"): 20,
            ("r1", "c1", "l0"): 3,
            ("r1", "c1", "l1"): 3,
            ("r1", "c2", "l0"): 3,
            ("r1", "c2", "l1"): 10,
            ("r2", "c0", "l0"): 4,
            ("r2", "c0", "l1"): 60,
            ("r2", "c1", "l0"): 3,
            ("r2", "c1", "l1"): 2,
            ("r2", "c2", "l0"): 33,
            ("r2", "c2", "l1"): 3,
        },
        {
            ("r0", "c0", "l0"): 12,
            ("r0", "c0", "l1"): 6,
            ("r0", "c1", "l0"): 15,
            ("r0", "c1", "l1"): 11,
            ("r0", "c2", "l0"): 4,
            ("r0", "c2", "l1"): 60,
            ("r1", "c0", "l0"): 3,
            ("r1", "c0", "l1"): 20,
            ("r1", "c1", "l0"): 15,
            ("r1", "c1", "l1"): 60,
            ("r1", "c2", "l0"): 11,
            ("r1", "c2", "l1"): 15,
            ("r2", "c0", "l0"): 11,
            ("r2", "c1", "l0"): 3,
            ("r2", "c1", "l1"): 1,
            ("r2", "c2", "l0"): 20,
            ("r2", "c2", "l1"): 1,
        },
    ]
    for cells in tables:
        assert suppress(cells) == reference(cells), cells


def test_a_given_total_is_the_grand_total() -> None:
    # 25 in the cells but 9 distinct cases (a multi-valued dimension): the total is under k,
    # and hiding it needs a partner, the cheaper cell.
    cells = {("A",): 12, ("B",): 13}
    assert suppress(cells, total=9) == {(TOTAL,), ("A",)} == reference(cells, total=9)
    assert suppress(cells, total=11) == set()
    assert suppress(cells, total=10) == {(TOTAL,), ("A",)}
    cells = {("A",): 3, ("B",): 40, ("C",): 20}
    assert suppress(cells, total=40) == reference(cells, total=40)


# --- what is published ------------------------------------------------------------------------


def test_protect_publishes_perturbed_survivors_and_the_true_total() -> None:
    cells = {("A",): 3, ("B",): 50, ("C",): 20, ("D",): 0}
    seen: list[tuple[Key, int]] = []

    def plus_one(key: Key, count: int) -> int:
        seen.append((key, count))
        return count + 1

    table = protect(cells, perturb=plus_one)
    assert table == ProtectedTable(
        cells={("A",): None, ("B",): 51, ("C",): None, ("D",): 0},
        total=74,
        suppressed=frozenset({("A",), ("C",)}),
    )
    # Zero cells are not perturbed; the total is perturbed under the grand-total key.
    assert sorted(seen, key=lambda s: order_key(s[0])) == [(("B",), 50), ((TOTAL,), 73)]
    assert protect(cells).total == 73 and protect(cells).cells[("B",)] == 50
    assert protect(cells, total=60).total == 60
    assert protect(cells, total=60, perturb=plus_one).total == 61


def test_protect_hides_the_total_when_it_is_suppressed() -> None:
    table = protect({("A",): 3, ("B",): 5}, perturb=lambda key, n: n + 100)
    assert table.total is None and table.cells == {("A",): None, ("B",): None}
    assert table.suppressed == frozenset({("A",), ("B",), (TOTAL,)})
    two = protect({("a", "x"): 3, ("a", "y"): 4})
    assert two.total is None and (TOTAL, TOTAL) in two.suppressed


def test_protect_of_nothing() -> None:
    assert protect({}) == ProtectedTable(cells={}, total=0, suppressed=frozenset())
    assert protect({}, total=5).total == 5
    # The grand total of a table of no dimension is keyed (TOTAL,) * 0 = ().
    seen: list[tuple[Key, int]] = []
    assert protect({}, total=5, perturb=lambda key, n: seen.append((key, n)) or n + 1).total == 6
    assert seen == [((), 5)]


def test_the_margin_marker() -> None:
    assert repr(TOTAL) == "TOTAL" and str(TOTAL) == "TOTAL"
    assert type(TOTAL)() is TOTAL


def test_only_k_counts_protect_nothing() -> None:
    assert protect({("A",): 3}, k=1) == ProtectedTable({("A",): 3}, 3, frozenset())


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cells",
    [
        {("A", "b", "c", "d"): 3},
        {(): 3},
        {("A",): -1},
        {("A",): 3, ("A", "b"): 4},
        {("A",): 2.5},
        {("A",): True},
        {("A",): "3"},
        {(1,): 3},
        {"A": 3},
    ],
)
def test_bad_tables_are_refused(cells: Any) -> None:
    with pytest.raises(ValueError) as caught:
        suppress(cells)
    assert str(caught.value) in {
        "suppression supports tables of 1 to 3 dimensions",
        "every cell key must be a tuple of the same number of strings (or None)",
        "counts must be non-negative integers",
    }


def test_three_dimensions_are_accepted() -> None:
    cells = {("a", "x", "1"): 3, ("a", "x", "2"): 30, ("a", "y", "1"): 30, ("a", "y", "2"): 30}
    cells |= {("b", "x", "1"): 30, ("b", "x", "2"): 30, ("b", "y", "1"): 30, ("b", "y", "2"): 30}
    result = suppress(cells)
    assert ("a", "x", "1") in result and len([c for c in result if TOTAL not in c]) == 8
    assert result == reference(cells)


def test_the_cell_limit_is_twenty_thousand() -> None:
    assert suppress({(str(i),): 20 for i in range(20_000)}) == set()
    with pytest.raises(TableTooLarge, match="more than 20000 cells"):
        suppress({(str(i),): 20 for i in range(20_001)})
    # Zero cells do not count towards the limit.
    assert suppress({(str(i),): (20 if i < 20_000 else 0) for i in range(20_050)}) == set()


# --- the candidate partners of a cube search ------------------------------------------------------


def partners(counts: list[int], k: int = K) -> list[Any]:
    """The partners the search tries for the cell of 3 in row r0 along the columns (2D)."""
    from hub.access.suppression import _extended, _Suppressor

    cells: dict[Key, int] = {("r0", "c00"): 3}
    cells |= {("r0", f"c{i + 1:02d}"): n for i, n in enumerate(counts)}
    cells |= {("r1", f"c{i:02d}"): 30 for i in range(len(counts) + 1)}
    table, dims = _extended(cells, None)
    return [value for value, _sign in _Suppressor(table, dims, k)._alternatives(("r0", "c00"), 1)]


def test_partners_in_a_short_line_come_best_first() -> None:
    """Up to 16 candidates per dimension in two dimensions: all of them, suppressed neighbours
    first, then by count, the margin last; a neighbour of 1 (which cannot give) is left out."""
    counts = [1, 12, 4, 1, 50, 10, 2]  # c01 .. c07
    assert partners(counts) == ["c07", "c03", "c06", "c02", "c05", TOTAL]
    sixteen = [1, 2, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 40, 60]  # 15 partners and the margin
    assert partners(sixteen) == [f"c{i:02d}" for i in range(2, 17)] + [TOTAL]


def test_partners_in_a_long_line_are_capped_keeping_the_largest_and_the_margin() -> None:
    """More than 16 candidates: the 13 best, then the largest neighbour and the margin."""
    counts = [1, 1, 2, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 40, 50, 60]  # c01 .. c19
    chosen = partners(counts)
    assert chosen[:13] == [f"c{i:02d}" for i in range(3, 16)]  # suppressed (2..10) first, then 12..16
    assert set(chosen[13:]) == {TOTAL, "c19"} and len(chosen) == 15
