"""Operation texts sent again: completed by plan from their second run on.

A dashboard polls the same statistics, a portal sends the same page query with new variables,
an analyst reruns a query in GraphiQL: the same text, again and again. The compiled path
(:mod:`resolvers.compiled`) completes the plain subtrees of *known* operations by plans made
once instead of field by field — for an analyst's statistics by province and year, completing
its 273 rows field by field was a quarter of the hub's CPU per query (issue 11). Documented
examples, allow-listed and persisted queries are known from the start; any other text becomes
known the second time it is sent. A text sent once costs no plan.

Only a 16-byte digest of each text is kept, in a bounded LRU, so texts that are never repeated
cannot grow the hub's memory; the plans themselves are bounded by their own LRU
(:data:`resolvers.compiled.MAX_PLANS`). A plan never changes an answer (``tests/test_compiled.py``).
"""

from __future__ import annotations

from collections import OrderedDict
from hashlib import blake2b

#: Operation texts remembered (their digests): far more than a hub's distinct hot operations.
MAX_REMEMBERED = 4096


class RepeatedOperations:
    """Which operation texts were sent before (by digest, the most recent ``size`` of them)."""

    def __init__(self, size: int = MAX_REMEMBERED) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen_before(self, query: str) -> bool:
        """Whether ``query`` was sent before; it counts as sent from now on."""
        key = blake2b(query.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        self._seen[key] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return False
