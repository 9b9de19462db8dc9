"""hub/engine/tracing.py: one span per source call when a tracer is installed, none otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hub.engine import tracing


def test_off_a_span_is_a_reusable_no_op() -> None:
    assert not tracing.enabled()  # the API's default provider records nothing
    with tracing.span("tppo.source", source="a") as first, tracing.span("tppo.source", source="b") as second:
        assert first is None and second is None


async def test_on_each_source_call_is_one_span_with_counts_and_no_values(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    monkeypatch.setattr(tracing._trace, "get_tracer", lambda name: provider.get_tracer(name))
    assert tracing.enabled()
    result = await hub.execute('{ cases(first: 2, filter: { agencies: ["POLRI"] }) { totalCount } }')
    assert not result.errors
    spans = [s for s in exporter.get_finished_spans() if s.name == "tppo.source"]
    assert [s.attributes["source"] for s in spans] == ["polri"]  # the page and its count: one call
    assert all(s.attributes["statements"] == 1 for s in spans)  # ... and one statement
    assert [s.attributes["rows"] for s in spans] == [4]  # first + 1 cases, and the count's row
    assert all(set(s.attributes) == {"source", "statements", "rows"} for s in spans)
