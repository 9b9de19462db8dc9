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
from hub.vocabulary.model import ChildrenRequest, Entity, PersonRole, Record

if TYPE_CHECKING:
    from hub.engine.federation import Federation
    from hub.engine.scope import RequestContext

LoaderKey = tuple[str, str]

#: Largest batch sent to one source in one statement (bind-parameter limits: SQLite 32766,
#: asyncpg 32767); bigger batches are split into parallel chunks.
MAX_BATCH = 5000


class BatchLoader(DataLoader):
    """A DataLoader whose cache :func:`load_all` can see (its ``cache_map``, a plain dict), and
    whose primed values wait as values until a load by key asks for one.

    DataLoader's ``prime`` makes a resolved future per key; a portal page primes ~40 keys (its
    cases' victims and services read with the page) and then reads them all at once through
    :func:`load_all`, which needs the values, not futures (~2 % of a page, issue 13). So primed
    values are kept in :attr:`known`, and a ``load`` of one of them makes its future then, as
    ``prime`` would have: the loader answers exactly as before.
    """

    def __init__(self, batch_load_fn: Any, *, max_batch_size: int) -> None:
        #: cache key → the future of its value (what DataLoader keeps; shared with it).
        self.cached: dict[Any, Any] = {}
        #: cache key → its primed value (or exception), not yet asked for by ``load``.
        self.known: dict[Any, Any] = {}
        super().__init__(batch_load_fn, max_batch_size=max_batch_size, cache_map=self.cached)

    def holds(self, key: Any) -> bool:
        """Whether the loader has ``key`` (primed, loaded, or on its way)."""
        return key in self.known or key in self.cached

    def prime(self, key: Any, value: Any) -> BatchLoader:
        """As DataLoader's: a key the loader holds already keeps its value."""
        if not self.holds(key):
            self.known[key] = value
        return self

    def load(self, key: Any) -> asyncio.Future[Any]:
        if key in self.known:  # primed: the future DataLoader's prime would have made
            value = self.known.pop(key)
            future = self.loop.create_future()
            if isinstance(value, Exception):
                future.set_exception(value)
            else:
                future.set_result(value)
            self.cached[key] = future
            return future
        return super().load(key)  # type: ignore[no-any-return]

    def clear(self, key: Any) -> BatchLoader:
        self.known.pop(key, None)
        super().clear(key)
        return self

    def clear_all(self) -> BatchLoader:
        self.known.clear()
        super().clear_all()
        return self


async def load_all(loader: DataLoader, keys: Sequence[Any], *, at_once: bool = False) -> list[Any]:
    """``loader.load_many(keys)``: the values of ``keys``, in one batch.

    ``at_once``: the caller holds every key its level of the query will ask this loader for
    (a page's root resolver expanding its cases: no sibling resolver runs beside it). Then,
    when none of the keys is known to the loader yet, its batch function is called with them
    straight away, in the caller's task, and the answers are primed into the loader's cache, so
    a later load of one of them in the same request is answered from it, as before.
    DataLoader's own way — a future, a queue entry and a resolution per key, a scheduled
    dispatch and a task per batch — cost ~3 % of a portal page for its two relations (issue
    13); what it buys is batching the keys of concurrent callers (forty ``_entities``
    resolvers, each with one key), which a caller with every key does not need.

    Otherwise (not at once, a key already loaded or on its way, or more keys than one batch
    takes) the loads go through the loader, queued at once so that one batch answers them all,
    then awaited in turn; ``load_many`` would gather them instead: a done-callback, a scheduled
    call and a loop turn per key. Either way an error raises the first failed key's, as a
    gather does.
    """
    if at_once and isinstance(loader, BatchLoader) and keys:
        unique = list(dict.fromkeys(keys))
        if (
            len(unique) <= (loader.max_batch_size or len(unique))
            and loader.cached.keys().isdisjoint(unique)
            and loader.known.keys().isdisjoint(unique)
        ):
            return await _batch_now(loader, unique, keys)
        known = _known(loader, unique)
        if known is not None:  # every key answered already (primed with its page): no wait
            return [known[key] for key in keys]
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


def _known(loader: BatchLoader, keys: list[Any]) -> dict[Any, Any] | None:
    """The values of ``keys`` when the loader holds every one of them resolved (primed, or
    loaded earlier in the request) and none failed; None otherwise (then the loader answers)."""
    found = {}
    known = loader.known
    for key in keys:
        if key in known:
            value = known[key]
            if isinstance(value, Exception):
                return None
            found[key] = value
            continue
        future = loader.cached.get(key)
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return None
        found[key] = future.result()
    return found


async def _batch_now(loader: BatchLoader, unique: list[Any], keys: Sequence[Any]) -> list[Any]:
    values = list(await loader.batch_load_fn(unique))
    if len(values) != len(unique):  # what DataLoader refuses too
        raise TypeError(f"batch function returned {len(values)} values for {len(unique)} keys")
    found = dict(zip(unique, values, strict=True))
    for key, value in found.items():
        loader.prime(key, value)
    results = [found[key] for key in keys]
    for value in results:
        if isinstance(value, Exception):
            raise value
    return results


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Loaders:
    """The DataLoaders of one request, made on first use."""

    def __init__(self, federation: Federation, ctx: RequestContext) -> None:
        self._federation = federation
        self._ctx = ctx
        self._by_key: dict[Entity, BatchLoader] = {}
        self._children: dict[tuple[Entity, str, frozenset[PersonRole] | None], BatchLoader] = {}

    def by_key(self, entity: Entity) -> BatchLoader:
        """Loader of ``entity`` records by key: ``(source, key) → Record | None``."""
        loader = self._by_key.get(entity)
        if loader is None:

            async def batch(keys: list[LoaderKey]) -> list[Record | None]:
                found = await self._per_source(keys, lambda s, ks: s.load(entity, ks))
                index = {(r.source, r.key): r for r in found}
                return [index.get(k) for k in keys]

            loader = self._by_key[entity] = BatchLoader(batch, max_batch_size=MAX_BATCH)
        return loader

    def children(self, entity: Entity, field: str, roles: frozenset[PersonRole] | None = None) -> BatchLoader:
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
                return _children_of(keys, found, field, roles)

            loader = self._children[(entity, field, roles)] = BatchLoader(batch, max_batch_size=MAX_BATCH)
        return loader

    def holds_children(self, request: ChildrenRequest, source: str, parent_keys: Sequence[str]) -> bool:
        """Whether the children loader of ``request`` already holds (or awaits) every parent."""
        loader = self.children(request.entity, request.field, request.roles)
        return all(loader.holds((source, key)) for key in parent_keys)

    def prime_children(
        self,
        request: ChildrenRequest,
        source: str,
        parent_keys: Sequence[str],
        found: Sequence[Record],
    ) -> None:
        """Tell the children loader of ``request`` what ``source`` answered for ``parent_keys``
        (read with their page, past the row rule), as its batch would have: the same records,
        kept and grouped the same way, every parent primed (one without children with none).

        A later load of one of these parents in the request is answered from the loader's cache
        without asking the source again; keys the loader already holds keep their value.
        """
        loader = self.children(request.entity, request.field, request.roles)
        keys = [(source, key) for key in dict.fromkeys(parent_keys)]
        for key, children in zip(keys, _children_of(keys, found, request.field, request.roles), strict=True):
            loader.prime(key, children)

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


def _children_of(
    keys: Sequence[LoaderKey], found: Sequence[Record], field: str, roles: frozenset[PersonRole] | None
) -> list[list[Record]]:
    """Per parent key, its records among ``found`` (whose ``field`` names it), in their order;
    with ``roles``, only the person records holding one of them."""
    if roles is not None:
        found = [r for r in found if roles.intersection(getattr(r, "roles", ()))]
    grouped: dict[LoaderKey, list[Record]] = defaultdict(list)
    for record in found:
        grouped[(record.source, getattr(record, field))].append(record)
    return [grouped.get(k, []) for k in keys]
