"""``hub.engine.loaders.load_all``: what ``DataLoader.load_many`` answers, without a gather.

The batch functions here are written out in the test (values and errors chosen by hand), so
each expectation is independent of the loader.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
from aiodataloader import DataLoader

from hub.engine.loaders import BatchLoader, load_all


def _squares(calls: list[list[int]]) -> DataLoader:
    async def batch(keys: list[int]) -> list[int]:
        calls.append(list(keys))
        return [k * k for k in keys]

    return DataLoader(batch)


async def test_one_batch_answers_every_key_in_order() -> None:
    calls: list[list[int]] = []
    assert await load_all(_squares(calls), [3, 1, 2, 3]) == [9, 1, 4, 9]
    assert calls == [[3, 1, 2]]  # one batch; a repeated key is loaded once


async def test_loads_of_concurrent_callers_share_one_batch() -> None:
    calls: list[list[int]] = []
    loader = _squares(calls)
    first, second = await asyncio.gather(load_all(loader, [1, 2]), load_all(loader, [2, 5]))
    assert (first, second) == ([1, 4], [4, 25])
    assert calls == [[1, 2, 5]]


async def test_cached_keys_are_not_asked_again() -> None:
    calls: list[list[int]] = []
    loader = _squares(calls)
    await load_all(loader, [1, 2])
    assert await load_all(loader, [2, 3]) == [4, 9]
    assert calls == [[1, 2], [3]]


async def test_an_empty_list_asks_nothing() -> None:
    calls: list[list[int]] = []
    assert await load_all(_squares(calls), []) == []
    assert calls == []


async def test_a_failed_key_raises_its_error() -> None:
    async def batch(keys: list[int]) -> list[object]:
        return [ValueError(f"no {k}") if k % 2 else k for k in keys]

    reported: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
    with pytest.raises(ValueError, match="no 3"):
        await load_all(DataLoader(batch), [2, 3, 5])
    gc.collect()  # an unread failed future reports itself when collected
    assert reported == []  # key 5's error was read too, as a gather reads it


async def test_a_failed_batch_raises_for_every_caller() -> None:
    async def batch(keys: list[int]) -> list[int]:
        raise RuntimeError("source down")

    loader = DataLoader(batch)
    results = await asyncio.gather(load_all(loader, [1]), load_all(loader, [2]), return_exceptions=True)
    assert [str(r) for r in results] == ["source down", "source down"]


# --- the hub's loaders: a caller with every key of its level asks at once ----------------------


def _batch_squares(calls: list[list[int]], max_batch_size: int = 100) -> BatchLoader:
    async def batch(keys: list[int]) -> list[object]:
        calls.append(list(keys))
        return [ValueError(f"no {k}") if k < 0 else k * k for k in keys]

    return BatchLoader(batch, max_batch_size=max_batch_size)


async def test_unknown_keys_are_batched_at_once_without_a_future_each() -> None:
    calls: list[list[int]] = []
    loader = _batch_squares(calls)
    tasks_before = len(asyncio.all_tasks())
    assert await load_all(loader, [3, 1, 2, 3], at_once=True) == [9, 1, 4, 9]
    assert calls == [[3, 1, 2]]  # one batch, each key once, in first-seen order
    assert len(asyncio.all_tasks()) == tasks_before  # no dispatch task was left behind


async def test_answers_are_remembered_for_the_rest_of_the_request() -> None:
    calls: list[list[int]] = []
    loader = _batch_squares(calls)
    await load_all(loader, [1, 2], at_once=True)
    assert await loader.load(2) == 4  # primed: answered without a batch
    assert await load_all(loader, [2, 3], at_once=True) == [4, 9]  # 2 known: via the loader
    assert calls == [[1, 2], [3]]


async def test_a_failed_key_raises_its_error_and_is_remembered_as_failed() -> None:
    calls: list[list[int]] = []
    loader = _batch_squares(calls)
    with pytest.raises(ValueError, match="no -1"):
        await load_all(loader, [2, -1, -3], at_once=True)
    with pytest.raises(ValueError, match="no -3"):
        await loader.load(-3)
    assert await loader.load(2) == 4
    assert calls == [[2, -1, -3]]


async def test_a_failing_batch_raises_for_the_caller() -> None:
    async def batch(keys: list[int]) -> list[int]:
        raise RuntimeError("source down")

    with pytest.raises(RuntimeError, match="source down"):
        await load_all(BatchLoader(batch, max_batch_size=10), [1, 2], at_once=True)


async def test_a_batch_answering_the_wrong_number_of_values_is_refused() -> None:
    async def batch(keys: list[int]) -> list[int]:
        return [1]

    with pytest.raises(TypeError):
        await load_all(BatchLoader(batch, max_batch_size=10), [1, 2], at_once=True)


async def test_more_keys_than_one_batch_takes_go_through_the_loader_in_chunks() -> None:
    calls: list[list[int]] = []
    loader = _batch_squares(calls, max_batch_size=2)
    assert await load_all(loader, [1, 2, 3, 4, 5], at_once=True) == [1, 4, 9, 16, 25]
    assert sorted(map(len, calls)) == [1, 2, 2]


async def test_callers_without_every_key_still_share_one_batch() -> None:
    """Forty entity resolvers with one key each are one batch, as with any DataLoader."""
    calls: list[list[int]] = []
    loader = _batch_squares(calls)
    answers = await asyncio.gather(*(load_all(loader, [k]) for k in range(1, 41)))
    assert answers == [[k * k] for k in range(1, 41)]
    assert calls == [list(range(1, 41))]


async def test_primed_keys_are_answered_without_the_loader_or_a_wait() -> None:
    """A page's relations read with the page are primed; expanding them asks nothing more."""
    calls: list[list[int]] = []
    loader = _batch_squares(calls)
    for key in (1, 2, 3):
        loader.prime(key, -key)  # what the page's statement answered (not what batch computes)
    tasks_before = len(asyncio.all_tasks())
    assert await load_all(loader, [3, 1, 3], at_once=True) == [-3, -1, -3]
    assert calls == [] and len(asyncio.all_tasks()) == tasks_before
    assert await load_all(loader, [1, 4], at_once=True) == [-1, 16]  # one unknown: via the loader
    assert calls == [[4]]


async def test_a_primed_failure_is_raised_through_the_loader() -> None:
    calls: list[list[int]] = []
    loader = _batch_squares(calls)
    loader.prime(1, 1)
    loader.prime(2, ValueError("no 2"))
    with pytest.raises(ValueError, match="no 2"):
        await load_all(loader, [1, 2], at_once=True)
    assert calls == []


async def test_a_primed_value_is_what_a_load_by_key_answers_as_before() -> None:
    """Primed values wait as values (no future each); a load by key, a later prime and a
    clear see them exactly as DataLoader's own prime would have left them."""
    calls: list[list[int]] = []
    loader = _batch_squares(calls)
    loader.prime(5, -5)
    loader.prime(5, 99)  # a key the loader holds keeps its value
    assert loader.holds(5) and not loader.cached  # no future made by priming
    assert await loader.load(5) == -5 and await loader.load(5) == -5
    assert calls == [] and 5 in loader.cached and 5 not in loader.known
    loader.prime(6, ValueError("no 6"))
    with pytest.raises(ValueError, match="no 6"):
        await loader.load(6)
    loader.prime(7, -7)
    loader.clear(7)
    assert not loader.holds(7) and await loader.load(7) == 49  # asked again
    loader.prime(8, -8)
    loader.clear_all()
    assert not loader.holds(8) and await load_all(loader, [8], at_once=True) == [64]
    assert calls == [[7], [8]]
