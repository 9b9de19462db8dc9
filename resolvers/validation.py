"""Validation results cached by the parsed document itself, not by its hash.

strawberry's ``ValidationCache`` keys an ``lru_cache`` by the graphql-core document, whose
``__hash__`` walks the whole syntax tree in Python (every node, every location): for a portal
page that walk cost about as much as the rest of the operation's set-up (issue 13, py-spy of
the PostGraphile peer's page). The hub parses through ``ParserCache``, which hands out the very
same document object for the same query text, so the object's identity is a key that costs
nothing; the entry keeps the document alive, so its id cannot be reused by another one while
the entry exists. A document parsed anew (a query text evicted from the parser's cache) is
simply validated again: the cache can only save work, never change an answer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

#: Documents whose validation is remembered (as the parser's cache: resolvers/schema.py).
MAX_DOCUMENTS = 512


class ValidationResults:
    """(schema, document, rules) → the validation errors, keyed by identity, least recent out."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS) -> None:
        self.max_documents = max_documents
        self._results: OrderedDict[tuple[int, int, Any], tuple[Any, Any, list[Any]]] = OrderedDict()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._results)

    def validate(self, schema: Any, document: Any, rules: Any) -> list[Any]:
        key = (id(schema), id(document), rules)
        entry = self._results.get(key)
        if entry is not None and entry[0] is schema and entry[1] is document:
            self._results.move_to_end(key)
            self.hits += 1
            return entry[2]
        errors = validate_document(schema, document, rules)
        self._results[key] = (schema, document, errors)
        while len(self._results) > self.max_documents:
            self._results.popitem(last=False)
        return errors


#: One table for the process, as strawberry's own cache (validation depends only on the key).
RESULTS = ValidationResults()


class DocumentValidationCache(SchemaExtension):
    """strawberry's ``ValidationCache``, keyed by the document object (see the module)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.pre_execution_errors = RESULTS.validate(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield
