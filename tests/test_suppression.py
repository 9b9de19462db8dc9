"""Statistics suppression: no suppressed count can be recovered, checked by solving for it.

For every suppressed cell, the test plays the attacker: it knows every published cell, every
margin that is published (a lower-dimensional query gives it), that absent cells are zero
and that a listed cell is at least 1, and solves two linear programs for the smallest and
largest value the cell can take. The cell is protected if the two differ; a primary cell
(under k) should moreover be able to reach k, so a reader cannot even tell it is small.
The linear programs are solved by a small simplex written here, independent of the code
under test.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.access.suppression import MAX_CELLS, TOTAL, TableTooLarge, protect, suppress

K = 11
EPS = 1e-7

# --- a small exact-enough LP solver (two-phase simplex, Bland's rule) --------------------------


def _pivot(tableau: list[list[float]], basis: list[int], row: int, col: int) -> None:
    pivot_row = tableau[row]
    factor = pivot_row[col]
    tableau[row] = pivot_row = [v / factor for v in pivot_row]
    for r, line in enumerate(tableau):
        if r != row and abs(line[col]) > EPS:
            f = line[col]
            tableau[r] = [a - f * b for a, b in zip(line, pivot_row, strict=True)]
    basis[row] = col


def _simplex(tableau: list[list[float]], basis: list[int], allowed: int) -> bool:
    """Minimise the last row (objective) over columns < ``allowed``; False if unbounded."""
    while True:
        objective = tableau[-1]
        col = next((j for j in range(allowed) if objective[j] < -EPS), None)
        if col is None:
            return True
        best_row, best_ratio = None, None
        for r in range(len(tableau) - 1):
            a = tableau[r][col]
            if a > EPS:
                ratio = tableau[r][-1] / a
                if (
                    best_ratio is None
                    or ratio < best_ratio - EPS
                    or (abs(ratio - best_ratio) <= EPS and basis[r] < basis[best_row])
                ):
                    best_row, best_ratio = r, ratio
        if best_row is None:
            return False
        _pivot(tableau, basis, best_row, col)


def lp_range(equations: list[tuple[dict[int, float], float]], n: int, target: int) -> tuple[float, float]:
    """(min, max) of y[target] subject to Σ coef·y = rhs for each equation, y ≥ 0."""
    results = []
    for sign in (1.0, -1.0):
        rows = []
        for coefs, rhs in equations:
            line = [0.0] * n
            for j, c in coefs.items():
                line[j] += c
            if rhs < 0:
                line, rhs = [-v for v in line], -rhs
            rows.append((line, rhs))
        m = len(rows)
        tableau = [
            line + [1.0 if i == r else 0.0 for i in range(m)] + [rhs] for r, (line, rhs) in enumerate(rows)
        ]
        basis = [n + r for r in range(m)]
        # phase 1: minimise the sum of artificials
        phase1 = [0.0] * (n + m + 1)
        for line in tableau:
            for j in range(n):
                phase1[j] -= line[j]
            phase1[-1] -= line[-1]
        tableau.append(phase1)
        _simplex(tableau, basis, n)
        assert abs(tableau[-1][-1]) < 1e-6, "the published table must be feasible"
        tableau.pop()
        for r in range(len(basis) - 1, -1, -1):  # drive artificials out or drop redundant rows
            if basis[r] >= n:
                col = next((j for j in range(n) if abs(tableau[r][j]) > EPS), None)
                if col is None:
                    del tableau[r], basis[r]
                else:
                    _pivot(tableau, basis, r, col)
        tableau = [[*line[:n], line[-1]] for line in tableau]
        objective = [0.0] * (n + 1)
        objective[target] = sign
        for r, b in enumerate(basis):  # express the objective in non-basic terms
            if abs(objective[b]) > EPS:
                f = objective[b]
                objective = [a - f * v for a, v in zip(objective, tableau[r], strict=True)]
        tableau.append(objective)
        if not _simplex(tableau, basis, n):
            results.append(float("-inf") if sign > 0 else float("inf"))
            continue
        value = -tableau[-1][-1]
        results.append(value if sign > 0 else -value)
    return results[0], results[1]


# --- the attacker ------------------------------------------------------------------------------


Key = tuple[Any, ...]


def extended(cells: Mapping[Key, int]) -> dict[Key, int]:
    """The table with every margin (TOTAL in summed dimensions), zero cells left out."""
    dims = len(next(iter(cells)))
    table: dict[Key, int] = {}
    for key, count in cells.items():
        if count == 0:
            continue
        for mask in itertools.product((False, True), repeat=dims):
            margin = tuple(TOTAL if m else v for v, m in zip(key, mask, strict=True))
            table[margin] = table.get(margin, 0) + count
    return table


def attacker_ranges(cells: Mapping[Key, int], hidden: set[Key]) -> dict[Key, tuple[float, float]]:
    """For each hidden cell: the (min, max) consistent with everything published."""
    table = extended(cells)
    dims = len(next(iter(cells)))
    unknown = [key for key in table if key in hidden]
    index = {key: i for i, key in enumerate(unknown)}
    # Variables are y = x - lower bound (1 for a listed inner cell, 0 for a margin).
    lower = {key: (0.0 if TOTAL in key else 1.0) for key in unknown}
    categories = [list({key[d] for key in table if key[d] is not TOTAL}) for d in range(dims)]
    equations = []
    for margin in table:
        for d in range(dims):
            if margin[d] is not TOTAL:
                continue
            coefs: dict[int, float] = {}
            rhs = 0.0
            terms = [(margin, 1.0)] + [((*margin[:d], v, *margin[d + 1 :]), -1.0) for v in categories[d]]
            for key, c in terms:
                if key not in table:
                    continue  # an absent cell is a known zero
                if key in index:
                    coefs[index[key]] = coefs.get(index[key], 0.0) + c
                    rhs -= c * lower[key]
                else:
                    rhs -= c * table[key]
            if coefs:
                equations.append((coefs, rhs))
    ranges = {}
    for key in unknown:
        low, high = lp_range(equations, len(unknown), index[key])
        ranges[key] = (low + lower[key], high + lower[key])
    return ranges


def assert_protected(cells: Mapping[Key, int], k: int = K) -> set[Key]:
    hidden = suppress(cells, k)
    table = extended(cells)
    assert {key for key, count in table.items() if count < k} <= hidden, "every small cell is suppressed"
    ranges = attacker_ranges(cells, hidden)
    for key, (low, high) in ranges.items():
        true = table[key]
        assert low - 1e-6 <= true <= high + 1e-6
        assert high - low > 0.5, f"{key} (true {true}) is determined by the published cells"
    return hidden


# --- tests -------------------------------------------------------------------------------------


def test_small_cell_and_its_complement_in_one_dimension() -> None:
    cells = {("A",): 3, ("B",): 50, ("C",): 20}
    hidden = assert_protected(cells)
    assert hidden == {("A",), ("C",)}  # the smallest cell that can absorb the shift to k


def test_a_total_under_k_is_suppressed_too() -> None:
    hidden = assert_protected({("A",): 3, ("B",): 5})
    assert (TOTAL,) in hidden
    table = protect({("A",): 3, ("B",): 5})
    assert table.total is None and table.cells == {("A",): None, ("B",): None}


def test_nothing_is_suppressed_when_every_cell_is_large() -> None:
    assert suppress({("A", "x"): 40, ("A", "y"): 12, ("B", "x"): 11, ("B", "y"): 99}) == set()
    table = protect({("A",): 40, ("B",): 12})
    assert table.total == 52 and table.cells == {("A",): 40, ("B",): 12}


def test_two_small_cells_summing_to_little_are_not_enough() -> None:
    # 1 + 1 published with their row total would pin both to 1: a larger cell must join.
    cells = {("A",): 1, ("B",): 1, ("C",): 30, ("D",): 40}
    hidden = assert_protected(cells)
    assert len(hidden - {("A",), ("B",)}) >= 1


def test_not_recorded_is_a_value_like_any_other() -> None:
    hidden = assert_protected({(None, "F"): 4, ("33", "F"): 30, (None, "M"): 25, ("33", "M"): 40})
    assert (None, "F") in hidden


def test_zero_cells_are_never_suppressed() -> None:
    hidden = suppress({("A",): 0, ("B",): 4, ("C",): 30})
    assert ("A",) not in hidden


def test_coordinator_style_k_of_one_suppresses_nothing() -> None:
    assert suppress({("A",): 1, ("B",): 2}, k=1) == set()


def test_two_dimensional_example_with_single_cell_rows() -> None:
    cells = {
        ("33", "2022"): 4,
        ("33", "2023"): 25,
        ("35", "2022"): 30,
        ("35", "2023"): 18,
        ("52", "2023"): 2,  # alone in its row: the row total is small too
        ("61", "2022"): 14,
        ("61", "2023"): 16,
    }
    hidden = assert_protected(cells)
    assert ("52", TOTAL) in hidden and (TOTAL, TOTAL) not in hidden


def test_multi_valued_total_is_respected() -> None:
    # Cases with several exploitation types: cells sum to 24, distinct cases are only 9.
    table = protect({("A",): 12, ("B",): 12}, total=9)
    assert table.total is None


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        suppress({("A", "b", "c", "d"): 3})
    with pytest.raises(ValueError):
        suppress({("A",): -1})
    with pytest.raises(ValueError):
        suppress({("A",): 3, ("A", "b"): 4})
    assert suppress({}) == set()


def test_huge_tables_are_refused() -> None:
    cells = {(str(i),): 20 for i in range(MAX_CELLS + 1)}
    with pytest.raises(TableTooLarge):
        suppress(cells)


@st.composite
def tables(draw: st.DrawFn) -> dict[tuple[str, ...], int]:
    dims = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, {1: 7, 2: 5, 3: 3}[dims])) for _ in range(dims)]
    counts = st.one_of(st.integers(0, 4), st.integers(1, 12), st.integers(10, 60))
    cells = {}
    for key in itertools.product(*[[f"{d}{i}" for i in range(n)] for d, n in enumerate(sizes)]):
        cells[key] = draw(counts)
    if not any(cells.values()):
        cells[next(iter(cells))] = 1
    return cells


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_no_suppressed_value_can_be_recovered(cells: dict[tuple[str, ...], int]) -> None:
    assert_protected(cells)


def full_inner_cube_exists(cells: Mapping[Key, int], primary: Key, k: int = K) -> bool:
    """Whether some cube of inner cells lets ``primary`` be shifted up to ``k``.

    Brute force, independent of the code under test. In one dimension a cube is a pair: p moves
    by +t, another category by -t. In two, four cells: (r, c) and (r', c') by +t, (r, c') and
    (r', c) by -t. Every corner must stay at least 1, and t must reach k - count.
    """
    need = k - cells[primary]
    if len(primary) == 1:
        return any(n - 1 >= need for key, n in cells.items() if key != primary and n)
    r, c = primary
    rows = {key[0] for key, n in cells.items() if n}
    cols = {key[1] for key, n in cells.items() if n}
    for r2 in rows - {r}:
        for c2 in cols - {c}:
            corners = [cells.get((r, c2), 0), cells.get((r2, c), 0), cells.get((r2, c2), 0)]
            if all(corners) and min(corners[0], corners[1]) - 1 >= need:
                return True
    return False


def assert_reaches_k_where_a_cube_allows(cells: Mapping[Key, int]) -> int:
    """Every primary cell with a full inner cube can be shifted up to k; returns how many."""
    hidden = suppress(cells)
    ranges = attacker_ranges(cells, hidden)
    checked = 0
    for key, count in cells.items():
        if 0 < count < K and full_inner_cube_exists(cells, key):
            checked += 1
            _low, high = ranges[key]
            assert high >= K - 1e-6, f"{key} = {count} in {cells}: can be shown under {K} (max {high})"
    return checked


def test_a_primary_cell_reaches_k_whenever_an_inner_cube_allows_it() -> None:
    """Exact, not a rate: where inner cells can hide that a count is under k, the chosen
    suppression does hide it (the attacker's upper bound reaches k). One-dimensional tables and
    tables of 4 x 4 are searched exhaustively by the code (under its search budget)."""
    rng = random.Random(7)
    checked = 0
    for _ in range(40):
        shape = rng.choice([(7,), (4, 4)])
        keys = (
            [(f"r{r}",) for r in range(shape[0])]
            if len(shape) == 1
            else [(f"r{r}", f"c{c}") for r in range(4) for c in range(4)]
        )
        cells = {key: rng.choice([0, 1, 2, 3, 5, 8, 9, 10, 12, 20, 35, 60]) for key in keys}
        if any(cells.values()):
            checked += assert_reaches_k_where_a_cube_allows(cells)
    assert checked > 30  # the random tables do exercise the rule


def test_a_realistic_table_is_protected() -> None:
    """A province-by-type sized table (38 x 13, sparse): every small cell hidden, and the hidden
    cells consistent with the margins. (Its speed is a benchmark's business, not a test's.)"""
    rng = random.Random(3)
    cells = {
        (f"p{p}", f"t{t}"): int(rng.expovariate(1 / 15))
        for p in range(38)
        for t in range(13)
        if rng.random() < 0.6
    }
    hidden = suppress(cells)
    small = {key for key, count in extended(cells).items() if 0 < count < K}
    assert small <= hidden
    assert all(key in extended(cells) for key in hidden)
