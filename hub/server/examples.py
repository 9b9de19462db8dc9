"""Example operations: GraphiQL's tabs, shown in the README, run by the tests and benchmarks.

Each is a named operation in its own ``.graphql`` document under ``operations/`` (package
data), so front-end teams can feed the same files to their code generators; the tests keep
the README's copies equal to them (``tests/test_documents.py``) and run them against the demo
data. The other operations of the README and docs/ live in ``docs/graphql/``.
"""

from __future__ import annotations

from pathlib import Path

OPERATIONS_DIR = Path(__file__).resolve().parent / "operations"


def operation(name: str) -> str:
    """The text of the example operation ``name`` (comments included)."""
    return (OPERATIONS_DIR / f"{name}.graphql").read_text(encoding="utf-8")


PORTAL_LIST = operation("PortalList")
ANALYST_FILTER = operation("AnalystFilter")
CASE_DETAIL = operation("CaseDetail")
STATISTICS = operation("StatisticsByProvinceAndYear")
LINKED_PERSONS = operation("LinkedPersons")

#: GraphiQL opens one tab per example, in this order.
GRAPHIQL_TABS = (PORTAL_LIST, ANALYST_FILTER, CASE_DETAIL, STATISTICS, LINKED_PERSONS)

#: Every example: known operations, run by plan rather than field by field (resolvers/compiled.py).
OPERATIONS = GRAPHIQL_TABS
