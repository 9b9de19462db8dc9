"""The load and fault bench (``python -m bench.faults``) still runs, at a tiny scale, for a few seconds.

No timing is asserted: tests never time things. What is asserted is what the bench exists to
show and what would make it silently wrong: no 5xx and no incorrect reply while PostgreSQL is
killed and restarted under load, the outage visible as correctly marked partial replies, the
source answering again after the restart, and RESULTS.md rewritten without losing the sections
others own. The classifier itself is checked on hand-made replies, so a bench that calls every
reply correct cannot pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import faults
from tests._pg import start_postgres


def _baseline() -> faults.Baseline:
    return faults.Baseline(
        answers={faults.STATS.name: {"statistics": {"total": 10, "rows": []}}},
        details={},
        id_source={},
        totals={faults.STATS.name: {"statistics": 10}},
        per_source={faults.STATS.name: {"statistics": {"simfoni": 4, "polri": 6}}},
        sources=["polri", "simfoni"],
        agency_of={"polri": "POLRI", "simfoni": "KEMENPPPA"},
    )


def _reply(total: int, errors: list[dict[str, Any]], statuses: dict[str, str]) -> dict[str, Any]:
    return {
        "data": {"statistics": {"total": total, "rows": []}},
        "errors": errors,
        "extensions": {
            "sources": [{"source": s, "status": st, "elapsedMs": 1.0} for s, st in statuses.items()]
        },
    }


def _down(code: str = "SOURCE_UNAVAILABLE") -> list[dict[str, Any]]:
    return [{"message": "down", "extensions": {"code": code, "source": "simfoni"}}]


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (200, _reply(10, [], {"simfoni": "ok", "polri": "ok"}), faults.COMPLETE),
        (200, _reply(6, _down(), {"simfoni": "error", "polri": "ok"}), faults.PARTIAL),
        (200, _reply(6, _down("SOURCE_TIMEOUT"), {"simfoni": "timeout", "polri": "ok"}), faults.PARTIAL),
        # a complete answer with data missing, a source failed without an error entry, an error
        # the source report does not show, a timeout shown as a plain error, polri's data lost
        # although only simfoni failed, an error code that is not a source's, and a 500:
        (200, _reply(6, [], {"simfoni": "ok", "polri": "ok"}), faults.INCORRECT),
        (200, _reply(6, [], {"simfoni": "error", "polri": "ok"}), faults.INCORRECT),
        (200, _reply(6, _down(), {"simfoni": "ok", "polri": "ok"}), faults.INCORRECT),
        (200, _reply(6, _down("SOURCE_TIMEOUT"), {"simfoni": "error", "polri": "ok"}), faults.INCORRECT),
        (200, _reply(0, _down(), {"simfoni": "error", "polri": "ok"}), faults.INCORRECT),
        (
            200,
            _reply(6, [{"message": "x", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}], {}),
            faults.INCORRECT,
        ),
        (500, {"data": None}, faults.INCORRECT),
    ],
)
def test_classify(status: int, payload: dict[str, Any], expected: str) -> None:
    outcome, reason = faults.classify(faults.STATS, status, payload, _baseline(), {})
    assert outcome == expected, reason


def test_proxy_delays_statements_on_the_agency_tables_only() -> None:
    proxy = faults.StatementDelayProxy(1, 2.0, ["permohonan"])
    stream = faults._ClientMessages(proxy.is_data)

    def message(kind: bytes, *parts: bytes) -> bytes:
        body = b"".join(parts)
        return kind + (4 + len(body)).to_bytes(4, "big") + body

    startup = (8).to_bytes(4, "big") + faults._SSL_REQUEST.to_bytes(4, "big")
    startup += (9).to_bytes(4, "big") + (196608).to_bytes(4, "big") + b"\0"
    data_sql = message(b"P", b"s1\0", b"SELECT * FROM permohonan\0", b"\0\0")
    ping = message(b"P", b"s2\0", b";\0", b"\0\0")
    run_data = message(b"B", b"\0", b"s1\0") + message(b"E", b"\0", b"\0\0\0\0") + message(b"S")
    run_ping = message(b"B", b"\0", b"s2\0") + message(b"E", b"\0", b"\0\0\0\0") + message(b"S")
    chunk = startup + data_sql + ping + run_data + run_ping + message(b"Q", b"BEGIN\0")
    # Fed in two pieces cut mid-message: the framing must survive it.
    parsed = stream.feed(chunk[:23]) + stream.feed(chunk[23:])
    assert [kind for kind, _, _ in parsed] == [b"", b"", b"P", b"P", b"B", b"E", b"S", b"B", b"E", b"S", b"Q"]
    assert [kind for kind, _, delayed in parsed if delayed] == [b"E"]  # the data statement's Execute
    assert b"".join(m for _, m, _ in parsed) == chunk


async def test_fault_bench_runs_at_tiny_scale(demo_dir: Path, postgres_server: Any, tmp_path: Path) -> None:
    """simfoni on a server of its own (killed and restarted), lpsk on the session's through the proxy."""
    settings = faults.Settings(
        clients=8,
        seconds=6.0,
        slow_delay=0.3,
        source_timeout=10.0,  # a healthy source must not time out on a loaded machine
        breaker_threshold=3,
        breaker_reset=0.5,
        min_down_replies=3,  # the outage lasts until it has been seen, however loaded the machine
        ids_per_agency=3,
        recovery_wait=20.0,
        dataset_dir=demo_dir,  # read-only: the hub's store goes to its own temporary directory
        results=None,
        command="pytest",
    )
    killed = start_postgres()
    try:
        results = await faults.run(settings, killed, postgres_server)
    finally:
        killed.close()

    v = faults.verdicts(results)
    reasons = [f"{r.op}: {r.reason}" for r in results.everything if r.outcome == faults.INCORRECT]
    assert v.server_errors == 0
    assert v.incorrect == 0, reasons[:5]
    assert results.count(faults.COMPLETE) > 0
    assert v.partial_while_down > 0  # the outage was seen, and marked
    assert v.ok_while_down == 0  # and no reply claimed the dead database answered
    assert v.recovery is not None  # simfoni answered again after the restart, no hub restart
    assert results.memory and v.peak_rss_kib
    assert results.proxy.delayed_statements > 0
    assert results.hub_exit_code in (0, -15)

    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## 5. Load\nfive\n\n## Linkage\nkept\n", encoding="utf-8")
    faults.write_section(faults.render(results), path)
    faults.write_section(faults.render(results), path)  # a rerun replaces, never duplicates
    text = path.read_text(encoding="utf-8")
    assert text.count(faults.HEADING) == 1
    assert text.index("## 5. Load\nfive") < text.index(faults.HEADING) < text.index("## Linkage\nkept")
