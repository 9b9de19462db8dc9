"""Per-principal budgets: how many requests one caller may have in flight, and how much work.

One expensive caller must not degrade everyone else. Two budgets per principal, both answered
with HTTP 429 and a ``Retry-After`` header (GraphQL code ``RATE_LIMITED``):

- **concurrency**: at most ``concurrent_requests`` operations of one principal run at once;
  the next is refused at once (``Retry-After: 1``), never queued, so a caller cannot pile up
  work that everybody else waits behind;
- **work**: every operation is priced before it runs by the calibrated work model
  (:func:`resolvers.safety.estimate_work`, in milliseconds of hub and source time); each
  principal has a token bucket of ``work_burst`` that refills at ``work_per_second``. An
  operation that costs more than the bucket holds is refused with the seconds after which it
  would pass. (An operation costing more than the whole bucket is ``QUERY_TOO_COMPLEX``.)

A principal is its subject and credential; anonymous callers are told apart by their client
address, so one anonymous caller cannot spend the budget of all others, and get
``anonymous_share`` of the rate and of the bucket (an address is cheaper to change than a token).
The table of buckets is bounded: a full bucket with nothing in flight is the same as a fresh
one, so such entries are the ones dropped when the table is full. Nothing here is module-level:
each hub owns its budgets.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.access.policy import Principal, QueryLimits

#: Principals tracked at once before idle full buckets are dropped.
MAX_TRACKED = 10_000


class RateLimited(Exception):
    """A request refused by a budget: which one, and when to try again (seconds)."""

    def __init__(self, budget: str, retry_after: float, message: str) -> None:
        super().__init__(message)
        self.budget = budget
        self.retry_after = retry_after
        self.message = message

    @property
    def retry_after_header(self) -> str:
        """Whole seconds for the ``Retry-After`` header (RFC 9110 §10.2.3), at least 1."""
        return str(max(1, math.ceil(self.retry_after)))

    def extensions(self) -> dict[str, object]:
        """The GraphQL error's ``extensions``."""
        return {"code": "RATE_LIMITED", "budget": self.budget, "retryAfter": int(self.retry_after_header)}


def budget_key(principal: Principal, client: str | None) -> str:
    """Whose budget a request spends: the credential's subject, or the anonymous client's address."""
    if principal.method in ("jwt", "api_key"):
        return f"{principal.method}:{principal.subject}"
    if principal.method == "in_process":
        return f"in_process:{principal.subject}"
    return f"anonymous:{client or '-'}"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    in_flight: int = 0


@dataclass(slots=True)
class Budgets:
    """The budgets of one hub, keyed by :func:`budget_key`."""

    settings: QueryLimits = field(default_factory=QueryLimits)
    clock: Callable[[], float] = field(default=time.monotonic)
    max_tracked: int = MAX_TRACKED
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _share(self, key: str) -> float:
        return self.settings.anonymous_share if key.startswith("anonymous:") else 1.0

    def _bucket(self, key: str) -> _Bucket:
        bucket = self._buckets.get(key)
        now = self.clock()
        share = self._share(key)
        burst, rate = self.settings.work_burst * share, self.settings.work_per_second * share
        if bucket is None:
            if len(self._buckets) >= self.max_tracked:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(burst, now)
            return bucket
        bucket.tokens = min(burst, bucket.tokens + rate * (now - bucket.updated))
        bucket.updated = now
        return bucket

    def _prune(self, now: float) -> None:
        settings = self.settings
        idle = [
            key
            for key, b in self._buckets.items()
            if b.in_flight == 0
            and b.tokens + settings.work_per_second * self._share(key) * (now - b.updated)
            >= settings.work_burst * self._share(key)
        ]
        for key in idle:
            del self._buckets[key]

    def enter(self, key: str) -> None:
        """Claim one of the principal's concurrent slots; :class:`RateLimited` if none is free."""
        bucket = self._bucket(key)
        if bucket.in_flight >= self.settings.concurrent_requests:
            raise RateLimited(
                "concurrency",
                1.0,
                f"at most {self.settings.concurrent_requests} requests of one caller run at once",
            )
        bucket.in_flight += 1

    def leave(self, key: str) -> None:
        """Give back a slot claimed by :meth:`enter`."""
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.in_flight > 0:
            bucket.in_flight -= 1

    def charge(self, key: str, work: float) -> None:
        """Spend ``work`` from the principal's bucket; :class:`RateLimited` if it holds too little."""
        bucket = self._bucket(key)
        if bucket.tokens >= work:
            bucket.tokens -= work
            return
        wait = (work - bucket.tokens) / (self.settings.work_per_second * self._share(key))
        raise RateLimited(
            "work",
            wait,
            f"this caller's work budget is spent: the request (estimated {work:.0f} ms of work) "
            f"may run in {math.ceil(wait)} s",
        )

    def available(self, key: str) -> float:
        """Work left in the principal's bucket now (for tests and the bench)."""
        return self._bucket(key).tokens
