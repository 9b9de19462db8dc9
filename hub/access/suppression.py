"""Safe statistics: k-anonymity cell suppression with complementary suppression.

A statistics table must not reveal small counts — a cell of 3 child victims from one regency
in one year can identify them. Cells with ``0 < count < k`` (k = 11 by default, CTDC
practice) are *primary* suppressed. That alone is not enough: with the total, or the other
cells of the row or column, a suppressed cell could be recomputed by subtraction. So more
cells are *complementarily* suppressed until no suppressed cell can be recomputed.

How (the hypercube method, as in τ-Argus's GHMITER, on tables of 1 to 3 dimensions):

- The table is extended with its margins: every sub-total over any set of dimensions, up to
  the grand total. Margins are treated as published (a client can ask the lower-dimensional
  query), unless they are themselves under k, which makes them primary too.
- Each primary cell ``p`` is protected by a *hypercube*: for every dimension, one other
  category (or the margin) is chosen; the 2^d corners are all suppressed. Adding ``+t`` and
  ``-t`` alternately on the corners keeps every row, column and margin sum unchanged, so a
  reader of the published cells cannot tell the true table from the shifted one.
- A cube is chosen so that ``p`` can be shifted up to at least ``k`` (the reader cannot even
  tell that it is below k), with every shifted cell still ≥ 1; failing that, so that it can
  be shifted at all. Among those, the cube that suppresses the least is taken; margins are
  used only as a last resort (the grand total last of all). A cube made only of ``p`` and
  margins always exists, so every primary cell is protected. (A sub-total of k or more
  suppressed that way is still published by the lower-dimensional query, so a cell
  protected only by such a cube could be recovered by combining the two answers; this is
  rare — inner-cell cubes are always preferred — and protecting linked tables jointly is
  beyond one request.)

Every suppressed cell — primary or complementary — is a corner of a cube that can be shifted,
so none is determined by the published cells, the margins and the knowledge that a listed
cell is at least 1 (tests/test_suppression.py checks this by solving linear programs).

How to report a suppressed table (for the ``statistics`` query):

- List every cell, suppressed ones too, with ``count: null, suppressed: true``.
- Report ``total`` as the true total (the sum of all cells, or the distinct count for a
  multi-valued dimension — pass it as ``total=``), *not* the sum of the visible cells — unless
  the grand total key ``(TOTAL,) * d`` is in the result: then report ``total: null``.
- The published cells and total then go through the cell-key perturbation (``perturb=`` of
  :func:`protect`, :mod:`hub.access.cellkey`): suppression is decided on true counts, the
  numbers shown are perturbed.
- Zero cells are not disclosive and are never suppressed; omit them or show 0.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.engine.config_auth import DEFAULT_K


class _Total:
    """The margin marker: a singleton that sorts after every value and prints as TOTAL."""

    _instance: _Total | None = None

    def __new__(cls) -> _Total:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "TOTAL"


#: Dimension value of a margin key: the cell summed over that dimension.
TOTAL: Any = _Total()

#: A cell key: one value per dimension (a string, or None for "not recorded"), or TOTAL.
Key = tuple[Any, ...]
#: Placeholder of the varying dimension in a line key.
_ANY: Any = object()

#: How many alternative categories per dimension a cube search tries (speed vs. optimality).
_CANDIDATES = {1: 1_000_000, 2: 16, 3: 7}
#: How many cubes a search examines at most once it has a cube without new margins.
_BUDGET = 48
#: Largest table (cells with a count) suppression accepts: beyond it the work grows too much
#: for one request and nearly every cell would be suppressed anyway.
MAX_CELLS = 20_000


class TableTooLarge(ValueError):
    """The table has more than :data:`MAX_CELLS` cells: ask for fewer groups (``QUERY_TOO_COMPLEX``)."""


@dataclass(frozen=True, slots=True)
class ProtectedTable:
    """A table ready to publish: counts (None where suppressed) and the total (None if suppressed)."""

    cells: dict[tuple[str, ...], int | None]
    total: int | None
    suppressed: frozenset[Key]


def suppress(cells: Mapping[tuple[str, ...], int], k: int = DEFAULT_K, total: int | None = None) -> set[Key]:
    """The cells to suppress in a table of counts so that no count under ``k`` can be learnt.

    ``cells`` maps a tuple of dimension values (1 to 3 dimensions; strings, or None for "not
    recorded") to a count.
    ``total`` is the true grand total if it is not the sum of the cells (a multi-valued
    dimension counts a case in several cells). Returns the suppressed keys: inner cells as
    given, and margins with :data:`TOTAL` in the summed dimensions — ``(TOTAL,) * d`` means
    the grand total must not be published either.
    """
    table, dims = _extended(cells, total)
    if k <= 1 or not table:
        return set()
    if sum(1 for key in table if TOTAL not in key) > MAX_CELLS:
        raise TableTooLarge(f"a table of more than {MAX_CELLS} cells cannot be published safely")
    return _Suppressor(table, dims, k).run()


#: Turns a cell's true count into the value to publish (the cell-key perturbation); called
#: with the cell's key, or ``(TOTAL,) * d`` for the grand total.
Perturb = Callable[[Key, int], int]


def protect(
    cells: Mapping[tuple[str, ...], int],
    k: int = DEFAULT_K,
    total: int | None = None,
    perturb: Perturb | None = None,
) -> ProtectedTable:
    """:func:`suppress` applied: the counts to publish, suppressed ones as None.

    Suppression is decided on the true counts; the cells and total that remain are published
    through ``perturb`` when given (:mod:`hub.access.cellkey`), as they are otherwise.
    """
    hidden = suppress(cells, k, total)
    dims = len(next(iter(cells))) if cells else 0
    true_total = total if total is not None else sum(cells.values())
    grand = (TOTAL,) * dims

    def published(key: Key, count: int) -> int:
        return perturb(key, count) if perturb is not None and count else count

    return ProtectedTable(
        cells={key: (None if key in hidden else published(key, count)) for key, count in cells.items()},
        total=None if dims and grand in hidden else published(grand, true_total),
        suppressed=frozenset(hidden),
    )


def _extended(cells: Mapping[tuple[str, ...], int], total: int | None) -> tuple[dict[Key, int], int]:
    """The table with every margin; zero cells left out (published, never suppressed)."""
    if not cells:
        return {}, 0
    dims = len(next(iter(cells)))
    if not 1 <= dims <= 3:
        raise ValueError("suppression supports tables of 1 to 3 dimensions")
    table: dict[Key, int] = {}
    subsets = [s for r in range(dims + 1) for s in itertools.combinations(range(dims), r)]
    for key, count in cells.items():
        if (
            not isinstance(key, tuple)
            or len(key) != dims
            or not all(v is None or isinstance(v, str) for v in key)
        ):
            raise ValueError("every cell key must be a tuple of the same number of strings (or None)")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("counts must be non-negative integers")
        if count == 0:
            continue
        for subset in subsets:
            margin = tuple(TOTAL if i in subset else v for i, v in enumerate(key))
            table[margin] = table.get(margin, 0) + count
    if total is not None and table:
        table[(TOTAL,) * dims] = total
    return table, dims


def _margin_dims(key: Key) -> int:
    return sum(1 for v in key if v is TOTAL)


def _sort_key(key: Key) -> tuple[tuple[int, str], ...]:
    return tuple((2, "") if v is TOTAL else (0, "") if v is None else (1, v) for v in key)


class _Suppressor:
    """One run of the hypercube method over an extended table."""

    def __init__(self, table: dict[Key, int], dims: int, k: int) -> None:
        self.table = table
        self.dims = dims
        self.k = k
        #: How many dimensions each key sums over (0 = inner cell, dims = grand total).
        self.margins = {key: _margin_dims(key) for key in table}
        #: For each dimension, the values present along each line (key with that dimension blanked).
        self.lines: list[dict[Key, list[str | None]]] = [{} for _ in range(dims)]
        for key in sorted(table, key=_sort_key):
            for dim in range(dims):
                line = (*key[:dim], _ANY, *key[dim + 1 :])
                self.lines[dim].setdefault(line, []).append(key[dim])
        self.suppressed: set[Key] = {key for key, count in table.items() if count < k}
        #: Corner patterns of a cube: for each corner, which side (own 0 / other 1) per dimension.
        self.patterns = list(itertools.product((0, 1), repeat=dims))

    def run(self) -> set[Key]:
        table, margins = self.table, self.margins
        for primary in sorted(self.suppressed, key=lambda key: (table[key], margins[key], _sort_key(key))):
            self.suppressed.update(self._best_cube(primary))
        return self.suppressed

    def _cost(self, key: Key) -> tuple[int, float]:
        """(class, information lost) of suppressing ``key`` now; class 1 margin, 2 grand total."""
        if key in self.suppressed:
            return 0, 0.0
        margins = self.margins[key]
        if margins == self.dims:
            return 2, float(self.table[key])
        if margins:
            return 1, float(self.table[key])
        return 0, 1.0 + self.table[key]

    def _alternatives(self, primary: Key, dim: int) -> list[tuple[str | None, int]]:
        """Other categories of ``dim`` next to ``primary`` (with their side's sign): best first, capped.

        Already suppressed neighbours come first (a cube of them costs nothing), then the
        smallest; the largest (most room to shift) and the margin (always feasible) are kept
        even when the list is capped. A neighbour that would have to shrink below 1 is skipped.
        """
        table, suppressed = self.table, self.suppressed
        own = primary[dim]
        found: list[tuple[str | None, int, Key]] = []
        for value in self.lines[dim][(*primary[:dim], _ANY, *primary[dim + 1 :])]:
            if value == own:
                continue
            neighbour = (*primary[:dim], value, *primary[dim + 1 :])
            count = table[neighbour]
            sign = 1 if own is TOTAL or value is TOTAL else -1
            if sign < 0 and self.margins[neighbour] == 0 and count < 2:
                continue
            found.append((value, sign, neighbour))
        cap = _CANDIDATES[self.dims]
        rank = lambda f: (f[2] not in suppressed, f[0] is TOTAL, table[f[2]])  # noqa: E731
        if len(found) <= cap:
            found.sort(key=rank)
        else:
            chosen = heapq.nsmallest(cap - 3, found, key=rank)
            chosen += [f for f in heapq.nlargest(2, found, key=lambda f: table[f[2]]) if f not in chosen]
            chosen += [f for f in found if f[0] is TOTAL and f not in chosen]
            found = chosen
        return [(value, sign) for value, sign, _ in found]

    def _best_cube(self, primary: Key) -> list[Key]:
        """The corners of the best feasible hypercube protecting ``primary``.

        Ranked by: no margin newly suppressed (margins are published by lower-dimensional
        queries, the grand total by this one), then full protection (``primary`` can be
        shifted up to k), then least information lost.
        """
        table, margins = self.table, self.margins
        wanted = max(1, self.k - table[primary])
        options = [self._alternatives(primary, d) for d in range(self.dims)]
        best: tuple[int, bool, float] | None = None
        best_corners: list[Key] = []
        examined = 0
        for alternatives in itertools.product(*options):
            if examined >= _BUDGET and best is not None and best[0] == 0:
                break  # good enough: bounded time on large sparse tables
            examined += 1
            sides = [(own, value) for own, (value, _) in zip(primary, alternatives, strict=True)]
            signs = [sign for _, sign in alternatives]
            room = float("inf")
            corners: list[Key] = []
            for pattern in self.patterns:
                key = tuple(side[bit] for side, bit in zip(sides, pattern, strict=True))
                count = table.get(key)
                if count is None:
                    break
                corners.append(key)
                if margins[key] == 0:
                    sign = 1
                    for bit, s in zip(pattern, signs, strict=True):
                        if bit:
                            sign *= s
                    if sign < 0:
                        room = min(room, count - 1)
            else:
                if room < 1:
                    continue
                short = room < wanted
                klass, cost = 0, 0.0
                for key in corners:
                    c, lost = self._cost(key)
                    klass, cost = max(klass, c), cost + lost
                rank = (klass, short, cost)
                if best is None or rank < best:
                    best, best_corners = rank, corners
                    if rank == (0, False, 0.0):
                        break  # already protected by suppressed cells
        if best is None:  # cannot happen: the cube of margins always exists; be safe anyway
            return [key for key in table if margins[key] == self.dims]
        return best_corners
