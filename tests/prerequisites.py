"""Prerequisites of the suite fail loudly unless the run explicitly opts out of them.

A test that needs something outside Python (Node and the npm tools in tests/js, a PostgreSQL
server, a Chromium browser, the npm registry) calls :func:`require`. When it is missing, the
test *fails* with what is missing and how to get it: `make test` installs everything it can,
so a missing prerequisite is a broken machine or Makefile, never a green run.

To run without one on purpose, name it in ``TPPO_ALLOW_SKIP`` (comma-separated, or ``all``):
``TPPO_ALLOW_SKIP=node make test``. Those tests are then skipped, and the end of the run
prints every prerequisite that was skipped and how many tests it cost.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

ALLOW_SKIP_ENV = "TPPO_ALLOW_SKIP"
#: Every prerequisite a test may require; an unknown name in a test is a typo.
KNOWN = frozenset({"node", "npm-registry", "postgresql", "chromium"})

_SKIP_PREFIX = "prerequisite "
_SKIP_MARK = f"missing, skipped because {ALLOW_SKIP_ENV} allows it: "


def allowed_to_skip() -> frozenset[str]:
    """The prerequisites this run may skip, from ``TPPO_ALLOW_SKIP``."""
    names = {n.strip().lower() for n in os.environ.get(ALLOW_SKIP_ENV, "").split(",") if n.strip()}
    return KNOWN if "all" in names else frozenset(names)


def require(name: str, available: bool, missing: str) -> None:
    """Fail (or, if opted out, skip) the calling test unless prerequisite ``name`` is available.

    ``missing`` says what is missing and how to get it, e.g. "node not on PATH: install Node.js
    (Debian: apt-get install nodejs npm) and run make js-deps".
    """
    if name not in KNOWN:
        raise ValueError(f"unknown prerequisite {name!r}; known: {', '.join(sorted(KNOWN))}")
    if available:
        return
    if name in allowed_to_skip():
        pytest.skip(f"{_SKIP_PREFIX}{name} {_SKIP_MARK}{missing}")
    pytest.fail(
        f"prerequisite {name!r} missing: {missing}. `make test` installs it; to run without it on "
        f"purpose set {ALLOW_SKIP_ENV}={name}",
        pytrace=False,
    )


def summary_lines(skipped_reports: list[pytest.TestReport]) -> list[str]:
    """The loud part: what this run did not test, from the skipped tests' reports."""
    counts: Counter[str] = Counter()
    reasons: dict[str, set[str]] = {}
    for report in skipped_reports:
        message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        message = message.removeprefix("Skipped: ")
        if message.startswith(_SKIP_PREFIX) and _SKIP_MARK in message:
            head, reason = message.split(_SKIP_MARK, 1)
            name = head.removeprefix(_SKIP_PREFIX).split(" ", 1)[0]
            counts[name] += 1
            reasons.setdefault(name, set()).add(reason)
    return [
        f"SKIPPED PREREQUISITE {name}: {count} test(s) not run ({'; '.join(sorted(reasons[name]))})"
        for name, count in sorted(counts.items())
    ]
