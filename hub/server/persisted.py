"""Persisted queries: Apollo's automatic persisted queries (APQ) and an allow-list mode.

APQ lets a portal send only ``extensions.persistedQuery.sha256Hash``; the hub answers
``PERSISTED_QUERY_NOT_FOUND`` the first time, the client resends the hash with the query, and
the hub keeps it (bounded LRU, per process: replicas each learn it on first use, as the
protocol expects). The cache is kept per principal (the ``scope`` of :meth:`PersistedQueries.resolve`):
a hash one caller persisted is unknown to every other, so whether a hash is known leaks nothing
about what someone else ran. In allow-list mode (production portals) only queries whose hash is in the
configured list run at all — a leaked token cannot run ad-hoc queries.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request's persisted query cannot run: message and ``extensions.code``."""

    message: str
    code: str


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


def operation_names(queries: Iterable[str]) -> frozenset[str]:
    """The names of the operations defined in ``queries`` (unparseable texts are skipped)."""
    names: set[str] = set()
    for query in queries:
        try:
            document = parse(query)
        except GraphQLError:
            continue
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        names.update(d.name.value for d in operations if d.name is not None)
    return frozenset(names)


class PersistedQueries:
    """The hub's store of persisted queries and its policy."""

    def __init__(self, allow_list: dict[str, str] | None = None, max_cached: int = 2000) -> None:
        self.allow_list = allow_list
        self.max_cached = max_cached
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()

    @classmethod
    def from_file(cls, path: Path) -> PersistedQueries:
        """An allow-list from a JSON file: ``{"<sha256>": "<query>", ...}`` or a list of queries."""
        data = json.loads(path.read_text(encoding="utf-8"))
        queries = data.values() if isinstance(data, dict) else data
        return cls(allow_list={sha256(q): q for q in queries if isinstance(q, str)})

    def operation_names(self) -> frozenset[str]:
        """Names of the allow-listed operations (they get their own metrics series)."""
        return operation_names((self.allow_list or {}).values())

    def resolve(
        self, query: str | None, extensions: dict[str, Any] | None, scope: str = ""
    ) -> str | Rejection:
        """The query text to execute, or why the request is rejected; ``scope`` names the
        principal whose APQ cache is used."""
        persisted = (extensions or {}).get("persistedQuery")
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if persisted is not None and (not isinstance(digest, str) or persisted.get("version") != 1):
            return Rejection("Unsupported persisted query", "PERSISTED_QUERY_NOT_SUPPORTED")
        if self.allow_list is not None:
            key = digest or (sha256(query) if query else None)
            if key is None or key not in self.allow_list:
                return Rejection(
                    "Only allow-listed queries may run on this hub", "PERSISTED_QUERY_NOT_ALLOWED"
                )
            return self.allow_list[key]
        if digest is None:
            return query or ""
        if query is None:
            cached = self._cache.get((scope, digest))
            if cached is None:
                return Rejection("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
            self._cache.move_to_end((scope, digest))
            return cached
        if sha256(query) != digest:
            return Rejection("provided sha does not match query", "BAD_USER_INPUT")
        self._cache[(scope, digest)] = query
        self._cache.move_to_end((scope, digest))
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return query
