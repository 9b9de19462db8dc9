"""OpenTelemetry tracing, per operation and per source call — never per field.

Tracing is optional: with the ``opentelemetry-api`` package absent, or no tracer configured,
every function here is a cheap no-op. Spans carry the operation name, the source name, the
outcome and counts — never arguments, values or anything personal (docs/architecture.md §3, §9: a
per-field ``resolve`` hook costs 8–16× and would see personal values).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from hub.engine.config import ConfigError

try:  # pragma: no cover - exercised when the optional package is installed
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover
    _trace = None  # type: ignore[assignment]

_TRACER_NAME = "tppo-hub"


def enabled() -> bool:
    """Whether a real tracer provider is installed (the API's default provider is a no-op)."""
    if _trace is None:
        return False
    provider = _trace.get_tracer_provider()
    return type(provider).__name__ not in {"ProxyTracerProvider", "NoOpTracerProvider"}


#: What :func:`span` gives when tracing is off: one reusable context manager yielding None
#: (a generator-based one per source call was measurable on a portal page, issue 13).
_NO_SPAN: contextlib.AbstractContextManager[None] = contextlib.nullcontext()


def span(name: str, **attributes: str | int | float | bool) -> contextlib.AbstractContextManager[Any]:
    """A span around a block when tracing is on (None inside when off); attributes must be
    non-identifying."""
    if not enabled():
        return _NO_SPAN
    return _span(name, attributes)


@contextlib.contextmanager
def _span(name: str, attributes: dict[str, str | int | float | bool]) -> Iterator[Any]:
    tracer = _trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def configure(service_name: str = "tppo-hub", exporter: str = "console") -> None:
    """Install an SDK tracer provider (``console`` or ``otlp`` exporter) from configuration.

    Raises :class:`ConfigError` (one line, not an ImportError traceback at start-up) when the
    packages the exporter needs are not installed: ``pip install 'tppo-hub[otel]'``.
    """
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        if exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError(
            f'[http].tracing = "{exporter}" needs the OpenTelemetry package {exc.name or "SDK"}, '
            "which is not installed: pip install 'tppo-hub[otel]'"
        ) from None

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter == "otlp":
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    _trace.set_tracer_provider(provider)
