"""Awaiting several source calls at once, without a task when there is only one.

``asyncio.gather`` wraps every awaitable in a task: a task object, a scheduled first step, a
done-callback and an extra turn of the event loop each. A hub with one agency — or a filter that
leaves one source — asks one source per step, and a portal page then paid for four such tasks
(the page, the count, and the two relations' batches) that ran nothing concurrently (issue 13).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def gather_all(awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """The results of ``awaitables`` in order, as ``asyncio.gather`` gives them.

    One awaitable is awaited in the caller's own task (same result, same exception, same
    cancellation); none gives an empty list; several run concurrently under ``gather``.
    """
    if len(awaitables) == 1:
        return [await awaitables[0]]
    if not awaitables:
        return []
    return list(await asyncio.gather(*awaitables))
