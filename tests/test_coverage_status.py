"""One spelling for a source's status: ``coverage[].status`` equals ``extensions.sources[].status``."""

from __future__ import annotations

from typing import Any

QUERY = """
query Coverage {
  statistics(measure: CASES, groupBy: [YEAR], filter: { agencies: ["POLRI", "KEMLU"], regions: ["33"] }) {
    coverage { source status }
  }
}
"""


async def test_coverage_and_extensions_spell_statuses_alike(hub: Any) -> None:
    result = await hub.execute(QUERY)
    assert not result.errors
    coverage = {c["source"]: c["status"] for c in result.data["statistics"]["coverage"]}
    extensions = {s["source"]: s["status"] for s in result.extensions["sources"]}
    assert coverage == extensions
    # Several states in one answer: answered, and (kemlu keeps no regions) excluded for the
    # region filter.
    assert {"ok", "excluded"} <= set(coverage.values())
