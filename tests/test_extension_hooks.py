"""Extension hooks are decided once per extension class (resolvers/hooks.py, issue 13).

Strawberry inspects every extension for each of four hook stages on every request (is it a
generator, an async generator, a function?) and wraps each in a new ``contextmanager``. The hub's
runner decides that once per class: a request must inspect nothing, while the hooks still run in
strawberry's order with strawberry's exit semantics (the rest of the suite runs every hook of
every extension through it: safety limits, access gate, audit, error codes, source report).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from hub.server.examples import PORTAL_LIST
from resolvers.access import AuditTrail
from resolvers.hooks import ASYNC, SYNC, CachedHooksRunner, hook_of
from resolvers.safety import QuerySafety


async def test_a_request_inspects_no_hook(hub: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    await hub.execute(PORTAL_LIST, {"after": None})  # the hooks of every class decided once
    calls = [0]
    real = inspect.isgeneratorfunction

    def counting(function: Any) -> bool:
        calls[0] += 1
        return real(function)

    monkeypatch.setattr(inspect, "isgeneratorfunction", counting)
    result = await hub.execute(PORTAL_LIST, {"after": None})
    assert not result.errors
    assert calls[0] == 0


def test_the_schema_runs_its_extensions_through_the_cached_runner(hub: Any) -> None:
    assert isinstance(hub.schema.create_extensions_runner(None, []), CachedHooksRunner)  # type: ignore[arg-type]


def test_hook_kinds() -> None:
    assert hook_of(QuerySafety, "on_operation") == (SYNC, QuerySafety.on_operation)
    assert hook_of(QuerySafety, "on_execute") == (ASYNC, QuerySafety.on_execute)
    assert hook_of(AuditTrail, "on_parse") is None  # the default: no hook


async def test_an_error_inside_execution_still_leaves_every_hook(hub: Any) -> None:
    """A resolver's refusal is answered with its code and the sources report, as before."""
    result = await hub.execute("{ cases(first: -1) { totalCount } }")
    assert [e.extensions["code"] for e in result.errors or []] == ["BAD_USER_INPUT"]
    assert "sources" in result.extensions
