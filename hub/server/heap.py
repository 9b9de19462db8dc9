"""The garbage collector set for a long-running server process (issue 13).

CPython's cyclic collector runs a young-generation pass every 700 net allocations of container
objects and, every hundred of those, a full pass over every object the process holds. A hub
holds ~150,000 long-lived objects after start (the schema, the compiled mappings, SQLAlchemy's
statement caches), none of which will ever become garbage; a full pass over them costs tens of
milliseconds, and a portal page allocates enough to trigger one every ~30 pages: 1.7 ms of GC
per page on average, a fifth of the hub's CPU for that page (measured in-process on the
PostGraphile peer's page, ``bench/postgraphile.py``). Request garbage is freed by reference
counting; the collector only has to find the rare cycles.

So, once the hub has started: collect once, then *freeze* what is left (moved to a permanent
generation the collector never scans, ``gc.freeze``), and let the young generation grow to
:data:`YOUNG_THRESHOLD` objects before a pass. Only the server does this (``tppo-hub serve``,
each worker): a process that builds many hubs, such as the test suite, would keep every
frozen hub alive.
"""

from __future__ import annotations

import gc

#: Net container allocations before a young-generation pass (CPython's default is 700).
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Freeze the objects alive now and space out young-generation collections."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
