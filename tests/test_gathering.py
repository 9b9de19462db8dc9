"""hub.engine.gathering.gather_all: asyncio.gather's results, without a task for one call."""

from __future__ import annotations

import asyncio

import pytest

from hub.engine.gathering import gather_all


async def _value(v: int, delay: float = 0.0) -> int:
    await asyncio.sleep(delay)
    return v


async def _task_count_during(awaitables: list) -> tuple[list, int]:
    before = len(asyncio.all_tasks())
    seen = []

    async def watch(v: int) -> int:
        seen.append(len(asyncio.all_tasks()) - before)
        return v

    results = await gather_all([watch(v) for v in awaitables])
    return results, max(seen)


async def test_results_come_in_order_of_the_awaitables() -> None:
    assert await gather_all([_value(1, 0.02), _value(2, 0.0), _value(3, 0.01)]) == [1, 2, 3]
    assert await gather_all([]) == []


async def test_one_call_runs_in_the_callers_task_and_several_in_their_own() -> None:
    results, extra = await _task_count_during([7])
    assert results == [7] and extra == 0
    results, extra = await _task_count_during([1, 2, 3])
    assert results == [1, 2, 3] and extra == 3


async def test_several_run_concurrently() -> None:
    started: list[int] = []
    release = asyncio.Event()

    async def waits(v: int) -> int:
        started.append(v)
        await release.wait()
        return v

    pending = asyncio.ensure_future(gather_all([waits(1), waits(2)]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sorted(started) == [1, 2]  # both started before either finished
    release.set()
    assert await pending == [1, 2]


@pytest.mark.parametrize("count", [1, 3])
async def test_an_error_is_raised_as_gather_raises_it(count: int) -> None:
    async def fails() -> int:
        raise ValueError("boom")

    calls = [fails()] + [_value(i) for i in range(count - 1)]
    with pytest.raises(ValueError, match="boom"):
        await gather_all(calls)


@pytest.mark.parametrize("count", [1, 2])
async def test_cancelling_the_caller_cancels_the_calls(count: int) -> None:
    cancelled: list[int] = []

    async def forever(v: int) -> int:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(v)
            raise
        return v

    task = asyncio.ensure_future(gather_all([forever(i) for i in range(count)]))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(cancelled) == list(range(count))
