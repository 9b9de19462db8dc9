"""Per-request DataLoaders: every nested relation costs one query per source, not one per row.

Loader keys are ``(source name, key)``. A batch groups its keys by source and asks each source
once — concurrently — through :meth:`hub.engine.federation.Federation.call`, so loads inherit the
engine's timeouts, statement counting and partial-failure handling, and pass the row rule
(:mod:`hub.engine.rowrule`) before anything else sees them. Loaders are created per
request, inside the running event loop (aiodataloader binds the loop at construction and its
cache is unbounded, so a shared loader would leak data across users and grow forever).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiodataloader import DataLoader

from hub.engine.gathering import gather_all
from hub.engine.rowrule import without_hidden
from hub.vocabulary.model import Entity, PersonRole, Record

if TYPE_CHECKING:
    from hub.engine.federation import Federation
    from hub.engine.scope import RequestContext

LoaderKey = tuple[str, str]

#: Largest batch sent to one source in one statement (bind-parameter limits: SQLite 32766,
#: asyncpg 32767); bigger batches are split into parallel chunks.
MAX_BATCH = 5000


async def load_all(loader: DataLoader, keys: Sequence[Any]) -> list[Any]:
    """``loader.load_many(keys)`` without a gathering callback per key.

    The loads are queued at once, so one batch answers them all; awaiting them in turn then
    costs nothing once the batch has run (an awaited finished future returns at once).
    ``load_many`` gathers them instead: a done-callback, a scheduled call and a loop turn per
    key — ~80 per portal page for its victims and services (issue 13). An error raises the
    first failed key's, as a gather does.
    """
    futures = [loader.load(key) for key in keys]
    results = []
    for i, future in enumerate(futures):
        try:
            results.append(await future)
        except BaseException:
            for other in futures[i + 1 :]:  # their errors are this one's: read, as a gather does
                other.add_done_callback(_retrieve)
            raise
    return results


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Loaders:
    """The DataLoaders of one request, made on first use."""

    def __init__(self, federation: Federation, ctx: RequestContext) -> None:
        self._federation = federation
        self._ctx = ctx
        self._by_key: dict[Entity, DataLoader] = {}
        self._children: dict[tuple[Entity, str, frozenset[PersonRole] | None], DataLoader] = {}

    def by_key(self, entity: Entity) -> DataLoader:
        """Loader of ``entity`` records by key: ``(source, key) → Record | None``."""
        loader = self._by_key.get(entity)
        if loader is None:

            async def batch(keys: list[LoaderKey]) -> list[Record | None]:
                found = await self._per_source(keys, lambda s, ks: s.load(entity, ks))
                index = {(r.source, r.key): r for r in found}
                return [index.get(k) for k in keys]

            loader = self._by_key[entity] = DataLoader(batch, max_batch_size=MAX_BATCH)
        return loader

    def children(self, entity: Entity, field: str, roles: frozenset[PersonRole] | None = None) -> DataLoader:
        """Loader of ``entity`` records whose ``field`` is the key: ``(source, key) → [Record]``.

        With ``roles``, only person records with one of them are needed (the victims of
        cases, not their suspects): sources may leave the others out
        (:meth:`adapters.base.Source.children_in_roles`), and the loader keeps only those.
        """
        loader = self._children.get((entity, field, roles))
        if loader is None:

            def ask(source: Any, ks: list[str]) -> Any:
                if roles is None:
                    return source.children(entity, field, ks)
                return source.children_in_roles(entity, field, ks, roles)

            async def batch(keys: list[LoaderKey]) -> list[list[Record]]:
                found = await self._per_source(keys, ask, relation=(entity, field))
                if roles is not None:
                    found = [r for r in found if roles.intersection(getattr(r, "roles", ()))]
                grouped: dict[LoaderKey, list[Record]] = defaultdict(list)
                for record in found:
                    grouped[(record.source, getattr(record, field))].append(record)
                return [grouped.get(k, []) for k in keys]

            loader = self._children[(entity, field, roles)] = DataLoader(batch, max_batch_size=MAX_BATCH)
        return loader

    async def _per_source(
        self,
        keys: Sequence[LoaderKey],
        work: Any,
        relation: tuple[Entity, str] | None = None,
    ) -> list[Record]:
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, key in keys:
            by_source[source].append(key)
        calls = []
        for source, source_keys in by_source.items():
            entry = self._federation.registry.get(source)
            if entry is None:
                continue
            if relation is not None and entry.source is not None and not entry.source.supports(*relation):
                continue  # this agency does not hold that relation: nothing to ask
            hidden = self._ctx.hidden_roles(source)

            async def visible(s: Any, ks: list[str] = source_keys, hidden: frozenset[Any] = hidden) -> Any:
                return await without_hidden(s, await work(s, ks), hidden)

            calls.append(self._federation.call(self._ctx, entry, visible, default=[]))
        results = await gather_all(calls)
        return [record for batch in results for record in batch]
