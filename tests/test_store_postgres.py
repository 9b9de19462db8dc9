"""The hub's store on PostgreSQL: two hub replicas share the linkage index and the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.access.policy import Principal
from hub.engine.config import parse_config
from hub.server.app import Hub
from tests.linkage_helpers import run_job

COORDINATOR = Principal(subject="store-test", role="coordinator", agency="LPSK", purpose="coordination")


async def test_two_replicas_share_one_postgresql_store(
    postgres_server: Any, demo_dir: Path, tmp_path: Path
) -> None:
    store = postgres_server.create_database("hub_store", replace=True)
    raw = {
        "hub": {"store": store},
        "sources": [
            {"name": n, "mapping": n, "url": f"sqlite:///{demo_dir / (n + '.sqlite')}"}
            for n in ("simfoni", "polri", "lpsk", "bp2mi", "kemlu")
        ],
    }
    first, second = Hub(parse_config(raw, tmp_path)), Hub(parse_config(raw, tmp_path))
    await first.start()
    await second.start()
    try:
        report = await run_job(first, full=True)
        assert report is not None
        query = "{ persons(first: 1, filter: {minAgencies: 2}) { totalCount } }"
        one = await first.execute(query, None, COORDINATOR)
        two = await second.execute(query, None, COORDINATOR)  # reads the index the first built
        assert not one.errors and not two.errors
        assert one.data == two.data and one.data["persons"]["totalCount"] > 0
        read = "{ cases(first: 2) { edges { node { victims { fullName } } } } }"
        assert not (await first.execute(read, None, COORDINATOR)).errors
        assert not (await second.execute(read, None, COORDINATOR)).errors
        admin = Principal(subject="store-admin", role="admin")
        log = await second.execute("{ auditLog(first: 50) { edges { node { subject } } } }", None, admin)
        assert not log.errors, [e.formatted for e in log.errors]
        subjects = [e["node"]["subject"] for e in log.data["auditLog"]["edges"]]
        assert subjects.count("store-test") >= 2  # both replicas' personal reads, in one chain
    finally:
        await first.stop()
        await second.stop()
