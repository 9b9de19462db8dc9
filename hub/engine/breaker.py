"""A circuit breaker per source: stop hammering an agency database that keeps failing.

CLOSED: calls go through; after ``threshold`` consecutive failures the breaker OPENs.
OPEN: calls fail fast (no connection attempt) until ``reset_after`` seconds have passed;
then one call is let through as a probe (HALF_OPEN). A successful probe closes the breaker;
a failed one opens it again for another ``reset_after``. This protects a struggling agency
server from a hub under load, and keeps the hub's answers fast while an agency is down.

Only **source faults** count: refused connections, errors, and timeouts of a cheap probe. A
call that timed out may simply have been an expensive query (one caller's six-dimension
statistics), which says nothing about the agency: so a timeout is not a failure by itself.
:meth:`CircuitBreaker.judge_timeout` then asks the source a cheap question (its health probe,
``SELECT 1``) under a short deadline; only if that fails or times out too does the breaker
count a failure. One probe per source runs at a time; timeouts meanwhile wait for its verdict.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

#: Deadline of the cheap probe that judges a timeout (seconds; capped by the source's timeout).
PROBE_SECONDS = 2.0


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class CircuitBreaker:
    """Consecutive-failure breaker with a timed half-open probe."""

    threshold: int = 5
    reset_after: float = 15.0
    clock: Callable[[], float] = field(default=time.monotonic)
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    _probing: bool = False
    _judging: asyncio.Future[bool] | None = None

    def allow(self) -> bool:
        """Whether a call may go to the source now (claims the probe when half-open)."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self.clock() - self.opened_at >= self.reset_after:
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self.state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def release_probe(self) -> None:
        """The claimed probe never reached the source (the hub was busy): let another try."""
        self._probing = False

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._probing = False

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            self.state = BreakerState.OPEN
            self.opened_at = self.clock()
            self._probing = False

    async def judge_timeout(
        self, probe: Callable[[], Awaitable[bool]], deadline: float = PROBE_SECONDS
    ) -> bool:
        """After a call timed out: True (and a success) if a cheap ``probe`` shows the source
        healthy — the timeout was the query's cost — else False and a failure."""
        if self._judging is not None:  # a probe is running: share its verdict
            return await asyncio.shield(self._judging)
        verdict: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._judging = verdict
        healthy = False
        try:
            async with asyncio.timeout(deadline):
                healthy = await probe()
        except Exception:  # a probe that fails in any way is a fault of the source
            healthy = False
        finally:
            self._judging = None
            verdict.set_result(healthy)
        if healthy:
            self.record_success()
        else:
            self.record_failure()
        return healthy
