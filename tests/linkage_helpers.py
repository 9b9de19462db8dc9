"""Helpers for the linkage tests: ground-truth labels in the hub's record keys, and a linked hub.

Expected values come from the demo generator's ground truth (``truth``), never from the hub.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from hub.engine.linking import LinkageJob, LinkReport, Progress
from hub.linkage.index import LinkageIndex
from tests.test_ground_truth import PERSON_TABLES, truth_person_key

RecordRef = tuple[str, str]


def truth_labels(truth: dict[str, Any]) -> dict[RecordRef, str]:
    """(source, hub record key) → ground-truth person id, for every agency person record."""
    return {
        (agency, truth_person_key(agency, p)): p["person"]
        for agency, data in truth["agencies"].items()
        for p in data["persons"]
    }


def truth_records(truth: dict[str, Any]) -> dict[RecordRef, dict[str, Any]]:
    """(source, hub record key) → the agency's truth record of that person."""
    return {
        (agency, truth_person_key(agency, p)): p
        for agency, data in truth["agencies"].items()
        for p in data["persons"]
    }


def truth_persons(truth: dict[str, Any]) -> dict[str, list[RecordRef]]:
    """ground-truth person id → its agency records."""
    out: dict[str, list[RecordRef]] = defaultdict(list)
    for ref, person in truth_labels(truth).items():
        out[person].append(ref)
    return out


def truth_services(truth: dict[str, Any]) -> dict[RecordRef, list[dict[str, Any]]]:
    """(source, hub person key) → the truth services recorded for that person record."""
    out: dict[RecordRef, list[dict[str, Any]]] = defaultdict(list)
    for agency, data in truth["agencies"].items():
        keys = {
            p["key"]: truth_person_key(agency, p)
            for p in data["persons"]
            if p["roles"][0] == "VICTIM" or agency not in PERSON_TABLES
        }
        for service in data["services"]:
            out[(agency, keys[service["recipient_key"]])].append({**service, "agency": agency})
    return out


def truth_cases(truth: dict[str, Any]) -> dict[RecordRef, dict[str, Any]]:
    """(source, case key) → the truth case record."""
    return {(agency, c["key"]): c for agency, data in truth["agencies"].items() for c in data["cases"]}


async def run_job(hub: Any, *, full: bool = False) -> LinkReport:
    """One linkage run over a started hub's sources into its own store."""
    job = LinkageJob(hub.registry, LinkageIndex(hub.store.engine), Progress(tty=False))
    return await job.run(full=full)


@pytest.fixture(scope="session", name="linked")
async def linked_fixture(hub: Any) -> LinkReport:
    """The session's demo hub with its linkage index built (a full run)."""
    return await run_job(hub, full=True)
