"""The circuit breaker, state by state, on a hand-driven clock.

Each test sits on an edge: the failure that opens it is exactly the ``threshold``-th, the probe
is let through exactly when ``reset_after`` has passed (not a tick before), exactly one probe
at a time, and what a probe's outcome does. The expected states are the documented ones
(hub/engine/breaker.py), not read back from the breaker.
"""

from __future__ import annotations

import asyncio

import pytest

from hub.engine.breaker import BreakerState, CircuitBreaker


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(threshold: int = 3, reset_after: float = 10.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(threshold=threshold, reset_after=reset_after, clock=clock), clock


@pytest.mark.parametrize("threshold", [1, 2, 3, 5])
def test_opens_at_exactly_the_threshold_th_consecutive_failure(threshold: int) -> None:
    b, _ = breaker(threshold)
    for n in range(1, threshold):
        b.record_failure()
        assert b.state is BreakerState.CLOSED, f"open after {n} of {threshold} failures"
        assert b.failures == n
        assert b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert not b.allow()


def test_default_threshold_is_five_and_reset_fifteen_seconds() -> None:
    b = CircuitBreaker()
    assert (b.threshold, b.reset_after, b.state, b.failures) == (5, 15.0, BreakerState.CLOSED, 0)


def test_a_success_resets_the_consecutive_count() -> None:
    b, _ = breaker(3)
    b.record_failure()
    b.record_failure()
    b.record_success()
    assert b.failures == 0
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED  # 2 consecutive, not 4 in all
    b.record_failure()
    assert b.state is BreakerState.OPEN


def test_open_refuses_until_reset_after_has_passed_exactly() -> None:
    b, clock = breaker(1, reset_after=10.0)
    b.record_failure()
    assert b.opened_at == 1000.0
    clock.now = 1009.999
    assert not b.allow()
    assert b.state is BreakerState.OPEN
    clock.now = 1010.0  # exactly reset_after later: the probe may go
    assert b.allow()
    assert b.state is BreakerState.HALF_OPEN


def test_half_open_lets_exactly_one_probe_through() -> None:
    b, clock = breaker(1, reset_after=5.0)
    b.record_failure()
    clock.now += 5.0
    assert b.allow()
    assert not b.allow()
    assert not b.allow()
    assert b.state is BreakerState.HALF_OPEN


def test_a_released_probe_can_be_claimed_again() -> None:
    b, clock = breaker(1, reset_after=5.0)
    b.record_failure()
    clock.now += 5.0
    assert b.allow()
    b.release_probe()
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()
    assert not b.allow()


def test_a_successful_probe_closes() -> None:
    b, clock = breaker(2, reset_after=5.0)
    b.record_failure()
    b.record_failure()
    clock.now += 6.0
    assert b.allow()
    b.record_success()
    assert (b.state, b.failures) == (BreakerState.CLOSED, 0)
    assert b.allow() and b.allow()  # closed: every call goes
    b.record_failure()
    assert b.state is BreakerState.CLOSED  # the count started again at zero


def test_a_failed_probe_reopens_for_another_full_wait() -> None:
    b, clock = breaker(5, reset_after=5.0)
    for _ in range(5):
        b.record_failure()
    clock.now += 5.0
    assert b.allow()
    clock.now += 1.0
    b.record_failure()  # one failure while half-open reopens, whatever the threshold
    assert b.state is BreakerState.OPEN
    assert b.opened_at == clock.now
    clock.now += 4.999
    assert not b.allow()
    clock.now += 0.001
    assert b.allow()


def test_a_failure_reported_while_open_restarts_the_wait() -> None:
    b, clock = breaker(1, reset_after=5.0)
    b.record_failure()
    opened = b.opened_at
    clock.now += 3.0
    b.record_failure()  # a call that was already in flight when it opened
    assert b.state is BreakerState.OPEN
    assert b.opened_at == clock.now  # documented: every failure that (re)opens it stamps the time
    assert opened < b.opened_at


# --- judging a timeout by a cheap probe -------------------------------------------------------


async def test_a_healthy_probe_is_a_success_and_clears_the_failures() -> None:
    b, _ = breaker(threshold=2)
    b.record_failure()

    async def healthy() -> bool:
        return True

    assert await b.judge_timeout(healthy) is True
    b.record_failure()  # one failure again, not the second in a row
    assert b.state is BreakerState.CLOSED


@pytest.mark.parametrize("outcome", ["unhealthy", "raises", "never answers"])
async def test_a_probe_that_does_not_show_health_is_a_failure(outcome: str) -> None:
    b, _ = breaker(threshold=1)

    async def probe() -> bool:
        if outcome == "raises":
            raise OSError("connection refused")
        if outcome == "never answers":
            await asyncio.Event().wait()
        return False

    # The outer bound only keeps a broken deadline from hanging the suite; it times nothing.
    verdict = await asyncio.wait_for(b.judge_timeout(probe, deadline=0.01), 30)
    assert verdict is False
    assert b.state is BreakerState.OPEN


@pytest.mark.parametrize("healthy", [True, False])
async def test_concurrent_timeouts_share_one_probe_and_one_verdict(healthy: bool) -> None:
    b, _ = breaker(threshold=2)
    release = asyncio.Event()
    calls = 0

    async def probe() -> bool:
        nonlocal calls
        calls += 1
        await release.wait()
        return healthy

    judges = [asyncio.ensure_future(b.judge_timeout(probe)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    verdicts = await asyncio.gather(*judges)
    assert verdicts == [healthy] * 3 and all(type(v) is bool for v in verdicts)
    assert calls == 1
    # One verdict is one success or one failure, not one per caller: two failures would open it.
    assert b.state is BreakerState.CLOSED
    # The next timeout is judged afresh.
    release.clear()
    release.set()
    assert await b.judge_timeout(probe) is healthy and calls == 2


async def test_callers_sharing_a_cancelled_probe_are_told_unhealthy() -> None:
    b, _ = breaker()

    async def probe() -> bool:
        await asyncio.Event().wait()
        return True

    first = asyncio.ensure_future(b.judge_timeout(probe, deadline=60))
    await asyncio.sleep(0)
    sharer = asyncio.ensure_future(b.judge_timeout(probe, deadline=60))
    await asyncio.sleep(0)
    first.cancel()
    assert await asyncio.wait_for(sharer, 30) is False
    with pytest.raises(asyncio.CancelledError):
        await first
