"""Operations already priced are not priced again (resolvers/safety.py ``Estimates``, issue 13).

The cost and work estimates walk the whole selection twice; a portal sends the same operation
with the same variables again and again. The cache must give the very refusals and budget
charges that pricing afresh gives, and tell apart every pair of variables that price apart.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.server.examples import PORTAL_LIST
from resolvers import safety
from resolvers.safety import _frozen

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


async def test_a_repeated_operation_is_priced_once(hub: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"cost": 0, "work": 0}
    cost, work = safety.estimate_cost, safety.estimate_work

    def counted_cost(*args: Any, **kwargs: Any) -> int:
        calls["cost"] += 1
        return cost(*args, **kwargs)

    def counted_work(*args: Any, **kwargs: Any) -> float:
        calls["work"] += 1
        return work(*args, **kwargs)

    monkeypatch.setattr(safety, "estimate_cost", counted_cost)
    monkeypatch.setattr(safety, "estimate_work", counted_work)
    # A text no other test sends (the session's hub and its cache are shared).
    query = "query PricedOnce($n: Int!) { cases(first: $n) { edges { node { id victims { id } } } } }"
    for _ in range(3):
        assert not (await hub.execute(query, {"n": 4})).errors
    assert calls == {"cost": 1, "work": 1}
    assert not (await hub.execute(query, {"n": 5})).errors  # other variables: priced
    assert calls == {"cost": 2, "work": 2}
    assert not (await hub.execute(PORTAL_LIST, {"after": None})).errors  # priced now or before
    after_first = dict(calls)
    assert not (await hub.execute(PORTAL_LIST, {"after": None})).errors
    assert calls == after_first


async def test_a_cached_refusal_is_the_same_refusal(hub: Any) -> None:
    query = (
        "query($n: Int!) { cases(first: $n) { edges { node { victims { services "
        "{ recipient { services { type } } } } } } } }"
    )
    answers = [await hub.execute(query, {"n": 500}) for _ in range(2)]
    formatted = [[e.formatted for e in a.errors or []] for a in answers]
    assert formatted[0] == formatted[1]
    assert formatted[0] and formatted[0][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


@given(JSON, JSON)
def test_variables_that_differ_are_kept_apart(a: Any, b: Any) -> None:
    fa, fb = _frozen({"v": a}), _frozen({"v": b})
    hash(fa), hash(fb)
    if repr(a) == repr(b):  # the same JSON value
        assert fa == fb
    if fa == fb:  # the same key only for equal values
        assert a == b


def test_one_true_and_one_point_zero_are_apart() -> None:
    assert len({_frozen({"n": 1}), _frozen({"n": True}), _frozen({"n": 1.0})}) == 3
    assert _frozen({"a": [1, 2]}) != _frozen({"a": [2, 1]})
    assert _frozen({"a": 1, "b": 2}) == _frozen({"b": 2, "a": 1})
