"""The row rule where records are read: what the asker may not see is never handed on.

The policy point (:mod:`hub.access.policy`) decides, per source, which person roles a request
may not see (protected witnesses of a witness-protection agency); the server puts that answer
in the request scope (``RequestContext.hidden_roles``). Every record the loaders read passes
through :func:`without_hidden`, inside the call into the source, so:

- a hidden person record is absent (``node(id:)`` is null, a case lists no such victim);
- a service whose recipient is a hidden person is absent too (its existence, type and dates
  would tell that the person exists);
- the rows those records took are not reported in ``extensions.sources[].rows`` — the count
  is of what the asker may see, so a hidden record does not show as "1 row read, 0 returned".

Filters and counts get the same rule in the source's SQL through ``CaseFilter.hidden_roles``.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.base import CURRENT_CALL, Source
from hub.vocabulary.model import Entity, PersonRecord, PersonRole, Record, ServiceRecord


def is_hidden(record: Record, hidden: frozenset[PersonRole]) -> bool:
    """Whether a person record has a hidden role (other records: judged by :func:`without_hidden`)."""
    return isinstance(record, PersonRecord) and any(role in hidden for role in record.roles)


async def without_hidden(
    source: Source, records: Sequence[Record], hidden: frozenset[PersonRole]
) -> list[Record]:
    """``records`` of one source without those hidden from the asker, rows reported after policy.

    Services are checked against their recipients, read from the same source in one batch;
    the rows of that check are not reported either.
    """
    if not hidden or not records:
        return list(records)
    stats = CURRENT_CALL.get()
    rows_read = stats.rows if stats is not None else 0
    recipients = sorted(
        {r.recipient_key for r in records if isinstance(r, ServiceRecord) and r.recipient_key is not None}
    )
    hidden_recipients: set[str] = set()
    if recipients and source.supports(Entity.PERSON):
        found = await source.load(Entity.PERSON, recipients)
        hidden_recipients = {p.key for p in found if is_hidden(p, hidden)}
    kept = [
        r
        for r in records
        if not is_hidden(r, hidden)
        and not (isinstance(r, ServiceRecord) and r.recipient_key in hidden_recipients)
    ]
    if stats is not None:
        stats.rows = max(0, rows_read - (len(records) - len(kept)))
    return kept
