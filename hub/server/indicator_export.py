"""``tppo-hub indicators export``: a period's indicators with their metadata, for a report.

The export runs the public ``indicator`` query in-process for each indicator of the registry,
as a principal of the chosen role, so it passes the same policy point, disclosure control and
audit trail as any client: with the default role ``public`` every figure is disclosure-
controlled (safe to publish); ``--role coordinator`` gives exact figures for internal use.

Formats:

- ``json``: one document with the period, the role, and per indicator its definition, Satu
  Data metadata, totals, disaggregated values and coverage;
- ``csv``: one row per value (totals first), each row repeating the indicator's metadata, as
  flat tables for Satu Data portals are published.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from hub.access.policy import ROLES, Principal
from hub.engine.config import HubConfig
from hub.engine.indicators import builtin_registry
from hub.server.app import Hub

FORMATS = ("csv", "json")

_QUERY = """
query Export($id: String!, $filter: CaseFilter, $by: [Dimension!], $asOf: Date) {
  indicator(id: $id, filter: $filter, disaggregateBy: $by, asOf: $asOf) {
    asOf suppressed
    indicator {
      id theme kind unit name { en id } definition { en id } steps rowDimension disaggregations
      metadata {
        concept { en id } formula frequency referenceCodes legalBasis producer
        sources { code } interpretation { en id }
      }
    }
    totals { keys { dimension value label } numerator denominator value suppressed }
    values { keys { dimension value label } numerator denominator value suppressed }
    coverage { source status excludedFor cannotEvaluate }
  }
}"""

CSV_COLUMNS = (
    "indicator",
    "theme",
    "name_en",
    "name_id",
    "unit",
    "period_from",
    "period_to",
    "keys",
    "numerator",
    "denominator",
    "value",
    "suppressed",
    "definition_en",
    "formula",
    "frequency",
    "sources",
    "reference_codes",
    "legal_basis",
    "not_evaluated",
    "errors",
)


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export: the period, the role to export as, and optional selections."""

    period_from: date | None = None
    period_to: date | None = None
    role: str = "public"
    indicators: tuple[str, ...] = ()
    disaggregate_by: tuple[str, ...] = ()
    as_of: date | None = None
    #: Export even when a source failed (the figures are then partial and say so).
    allow_partial: bool = False


class ExportError(ValueError):
    """The export was asked for something impossible (an unknown indicator, role or format)."""


async def export(config: HubConfig, request: ExportRequest, fmt: str) -> str:
    """The period's indicators as ``fmt`` text (see the module docstring)."""
    if fmt not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}")
    if request.role not in ROLES:
        raise ExportError(f"--role must be one of {', '.join(ROLES)}")
    if request.period_from and request.period_to and request.period_from > request.period_to:
        raise ExportError("--from is after --to")
    registry = builtin_registry()
    wanted = request.indicators or tuple(i.id for i in registry)
    unknown = [i for i in wanted if registry.get(i) is None]
    if unknown:
        raise ExportError(f"unknown indicator(s): {', '.join(unknown)}")
    principal = Principal(subject="cli:indicators-export", role=request.role, purpose="STATISTICS")
    period = {
        "reportedFrom": request.period_from.isoformat() if request.period_from else None,
        "reportedTo": request.period_to.isoformat() if request.period_to else None,
    }
    hub = Hub(config)
    await hub.start()
    results: list[dict[str, Any]] = []
    try:
        for ident in wanted:
            spec = registry.get(ident)
            assert spec is not None
            allowed = {d.name for d in spec.disaggregations}
            variables = {
                "id": ident,
                "filter": period if any(period.values()) else None,
                "by": [d for d in request.disaggregate_by if d in allowed],
                "asOf": request.as_of.isoformat() if request.as_of else None,
            }
            result = await hub.execute(_QUERY, variables, principal)
            if result.errors:
                messages = "; ".join(e.message for e in result.errors)
                # A source that failed or timed out leaves a partial figure: a report must not
                # carry one silently (``allow_partial`` keeps it, with the errors beside it).
                if result.data is None or result.data.get("indicator") is None or not request.allow_partial:
                    raise ExportError(f"{ident}: {messages}")
            assert result.data is not None
            entry = result.data["indicator"]
            if result.errors:
                entry = {**entry, "errors": [e.message for e in result.errors]}
            results.append(entry)
    finally:
        await hub.stop()
    document = {
        "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "period": {"from": period["reportedFrom"], "to": period["reportedTo"]},
        "role": request.role,
        "disclosureControlled": request.role != "coordinator",
        "indicators": results,
    }
    return _json(document) if fmt == "json" else _csv(document)


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _keys(keys: Sequence[dict[str, Any]]) -> str:
    return ";".join(f"{k['dimension']}={'' if k['value'] is None else k['value']}" for k in keys)


def _csv(document: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    period = document["period"]
    for result in document["indicators"]:
        spec, meta = result["indicator"], result["indicator"]["metadata"]
        not_evaluated = ";".join(
            f"{c['source']}:{'+'.join(c['cannotEvaluate'] or c['excludedFor'])}"
            for c in result["coverage"]
            if c["cannotEvaluate"] or c["excludedFor"]
        )
        for value in [*result["totals"], *result["values"]]:
            writer.writerow(
                (
                    spec["id"],
                    spec["theme"],
                    spec["name"]["en"],
                    spec["name"]["id"],
                    spec["unit"],
                    period["from"] or "",
                    period["to"] or "",
                    _keys(value["keys"]),
                    "" if value["numerator"] is None else value["numerator"],
                    "" if value["denominator"] is None else value["denominator"],
                    "" if value["value"] is None else value["value"],
                    "true" if value["suppressed"] else "false",
                    spec["definition"]["en"],
                    meta["formula"],
                    meta["frequency"],
                    ";".join(s["code"] for s in meta["sources"]),
                    ";".join(meta["referenceCodes"]),
                    meta["legalBasis"],
                    not_evaluated,
                    "; ".join(result.get("errors", [])),
                )
            )
    return out.getvalue()
