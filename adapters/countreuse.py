"""A list's total reused while PostgreSQL proves that nothing has committed since it was counted.

A portal page with ``totalCount`` counts every case its filter matches, on every page: for the
portal bench's 16,038 cases that count is ~65 % of PostgreSQL's work per page, and it grows
with the register, where the page itself does not (issue 13). Most pages of a register are
read between two of its writes, and then the count is the same as the last one.

"The same" must be proved, not guessed, and the database proves it. Each statement runs on an
MVCC snapshot, which ``pg_current_snapshot()`` returns: ``xmax`` is one past the newest
transaction that has ended, and ``xmin`` the oldest still running (``xmin = xmax`` when none
is). A transaction id is assigned to every transaction that writes anything, and ids are
handed out in order, cluster-wide, never reused (64-bit). So when a count was read on a
snapshot with no transaction running and ``xmax = X``, and a later statement's snapshot again
has none running and ``xmax = X``, then no transaction has ended in between, none was running
then, and so none has committed: both snapshots see exactly the same rows, and the count is
the same. A transaction that is running at the second snapshot is invisible to it (it has not
ended), and its commit moves ``xmax``. The test is conservative: a write to any table of any
database on the server, even one rolled back, makes the next page count again.

The statement itself decides, in one round trip with the page (:func:`reusing`)::

    CASE WHEN <no transaction running> AND <xmax and server> = :seen THEN :seen_total
         ELSE (SELECT count(*) ...) END

PostgreSQL runs a scalar subquery (an InitPlan) only when its value is first used, so the
count runs only in the ELSE branch (``EXPLAIN ANALYZE`` shows it "never executed" otherwise).
The statement also returns its own snapshot's mark, from which :class:`CountMemo` learns the
next ``:seen``. The mark holds the server's start time beside ``xmax``, so a restarted server,
or another server behind the same address (a failover, a restored copy), never matches a mark
of the one before.

What the hub keeps is one number per filter (the total the caller may see anyway) with the mark
it is valid at: nothing identifying, held in memory only, and never answered without the
database confirming it on that very statement.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Select, Text, bindparam, case, cast, false, func, literal, select
from sqlalchemy.sql.expression import ColumnElement

#: The oldest PostgreSQL with ``pg_current_snapshot()`` and its ``pg_snapshot_*`` functions.
SINCE_VERSION = (13,)
#: Filters whose totals a source keeps (a portal's handful of lists, with room for filters).
KEPT_TOTALS = 256
#: The bound parameters of :func:`reusing`: the mark a total was read at, and that total.
SEEN_MARK = "tppo_hub__seen_mark"
SEEN_TOTAL = "tppo_hub__seen_total"
#: A mark no snapshot has (a statement's mark always holds a ``:``): nothing known, count.
_NOTHING_SEEN: dict[str, Any] = {SEEN_MARK: "", SEEN_TOTAL: 0}


def _quiet_mark() -> ColumnElement[Any]:
    """This statement's snapshot as ``xmax:server start`` when no transaction is running on
    the server, else NULL (a snapshot with transactions running marks nothing)."""
    snapshot = func.pg_current_snapshot()
    xmax = func.pg_snapshot_xmax(snapshot)
    started = func.extract("epoch", func.pg_postmaster_start_time())
    mark = cast(xmax, Text).concat(literal(":")).concat(cast(started, Text))
    return case((func.pg_snapshot_xmin(snapshot) == xmax, mark), else_=None)


def reusing(count: Select[Any]) -> Select[Any]:
    """``count`` (a ``SELECT count(*)``) as a statement of one row with no FROM: the total, read
    from ``:tppo_hub__seen_total`` when this statement's snapshot has the mark ``:tppo_hub__seen_mark``
    and by running ``count`` otherwise; this snapshot's mark (NULL: none to learn); and whether
    the total was reused (for the source's metrics)."""
    mark = _quiet_mark()
    seen = bindparam(SEEN_MARK, type_=Text)
    known = bindparam(SEEN_TOTAL, type_=BigInteger)
    same = func.coalesce(mark == seen, false())
    total = case((same, known), else_=count.scalar_subquery())
    return select(cast(total, BigInteger).label("total"), mark.label("mark"), same.label("reused"))


class CountMemo:
    """The totals of one source, each with the mark of the snapshot it was counted on.

    Keys are whatever fully decides the count statement (a source's case filter, which holds the
    caller's access rules too); the :data:`KEPT_TOTALS` most recently used are kept.
    """

    def __init__(self, size: int = KEPT_TOTALS) -> None:
        self._size = size
        self._seen: OrderedDict[Hashable, tuple[str, int]] = OrderedDict()
        #: Totals the database reused, and totals it counted, since the source opened (metrics).
        self.reused = 0
        self.counted = 0

    def parameters(self, key: Hashable) -> Mapping[str, Any]:
        """The values of :func:`reusing`'s parameters for ``key``: its last total and mark."""
        seen = self._seen.get(key)
        if seen is None:
            return _NOTHING_SEEN
        self._seen.move_to_end(key)
        return {SEEN_MARK: seen[0], SEEN_TOTAL: seen[1]}

    def total(self, key: Hashable, row: Sequence[Any]) -> int:
        """The total of :func:`reusing`'s row, learnt for ``key`` when the row has a mark."""
        total, mark = int(row[0]), row[1]
        if len(row) > 2 and row[2]:
            self.reused += 1
        else:
            self.counted += 1
        if mark is not None:
            self._seen[key] = (str(mark), total)
            self._seen.move_to_end(key)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
        return total

    def clear(self) -> None:
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)
