"""``hub.engine.loaders.load_all``: what ``DataLoader.load_many`` answers, without a gather.

The batch functions here are written out in the test (values and errors chosen by hand), so
each expectation is independent of the loader.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
from aiodataloader import DataLoader

from hub.engine.loaders import load_all


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
