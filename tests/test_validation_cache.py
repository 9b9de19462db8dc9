"""resolvers/validation.py: validation remembered per document object, never a changed answer."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse, specified_rules
from strawberry.schema.schema import validate_document

from resolvers import validation
from resolvers.schema import schema
from resolvers.validation import ValidationResults

RULES: tuple[Any, ...] = tuple(specified_rules)


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []

    def counting(graphql_schema: Any, document: Any, rules: Any) -> Any:
        seen.append(document)
        return validate_document(graphql_schema, document, rules)

    monkeypatch.setattr(validation, "validate_document", counting)
    return seen


def test_the_same_document_is_validated_once(calls: list[Any]) -> None:
    results = ValidationResults()
    document = parse("{ cases(first: 1) { totalCount } }")
    assert results.validate(schema._schema, document, RULES) == []
    assert results.validate(schema._schema, document, RULES) == []
    assert calls == [document] and results.hits == 1


def test_another_document_object_of_the_same_text_is_validated_again(calls: list[Any]) -> None:
    results = ValidationResults()
    text = "{ cases(first: 1) { totalCount } }"
    first, second = parse(text), parse(text)
    results.validate(schema._schema, first, RULES)
    results.validate(schema._schema, second, RULES)
    assert calls == [first, second]


def test_errors_are_those_of_graphql_core(calls: list[Any]) -> None:
    results = ValidationResults()
    document = parse("{ cases(first: 1) { noSuchField } }")
    expected = [e.message for e in validate_document(schema._schema, document, RULES)]
    assert expected and "noSuchField" in expected[0]
    for _ in range(2):
        assert [e.message for e in results.validate(schema._schema, document, RULES)] == expected
    assert len(calls) == 1


def test_other_rules_are_another_entry(calls: list[Any]) -> None:
    results = ValidationResults()
    document = parse("{ __typename } fragment F on Query { __typename }")
    assert results.validate(schema._schema, document, ()) == []  # strawberry's own two rules only
    assert [e.message for e in results.validate(schema._schema, document, RULES)] == [
        "Fragment 'F' is never used."
    ]
    assert len(calls) == 2


def test_the_table_is_bounded_and_keeps_the_most_recent(calls: list[Any]) -> None:
    results = ValidationResults(max_documents=2)
    documents = [parse(f"{{ cases(first: {n}) {{ totalCount }} }}") for n in (1, 2, 3)]
    for document in documents:
        results.validate(schema._schema, document, RULES)
    assert len(results) == 2
    results.validate(schema._schema, documents[0], RULES)  # evicted: validated again
    results.validate(schema._schema, documents[2], RULES)  # kept
    assert calls == [*documents, documents[0]]


async def test_the_hub_validates_a_repeated_query_once(calls: list[Any], hub: Any) -> None:
    query = "{ cases(first: 1) { totalCount } }"
    for _ in range(3):
        result = await hub.execute(query)
        assert not result.errors
    assert len([d for d in calls if d is calls[0]]) <= 1
    bad = await hub.execute("{ cases(first: 1) { noSuchField } }")
    assert bad.errors and "noSuchField" in bad.errors[0].message
